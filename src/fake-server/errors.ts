/** The error body the OpenResponses prose defines for non-200 answers. */

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(message: string, type: string, param: string | null = null, code: string | null = null): ErrorBody {
  return { error: { message, type, param, code } };
}

/** Flex's answer when it has no capacity (429): not a rate limit, and not billed. */
export const FLEX_UNAVAILABLE = errorBody('Resource Unavailable: flex processing has no capacity right now; retry later or use the default tier.', 'too_many_requests', null, 'resource_unavailable');

/** A plausible error body for an HTTP status the fake was told to answer. */
export function errorForStatus(status: number): ErrorBody {
  switch (status) {
    case 400:
      return errorBody('The request was rejected.', 'invalid_request_error', null, 'invalid_request');
    case 401:
      return errorBody('Incorrect API key provided.', 'authentication_error', null, 'invalid_api_key');
    case 403:
      return errorBody('You are not allowed to use this model.', 'permission_error', null, 'forbidden');
    case 404:
      return errorBody('The model does not exist or you do not have access to it.', 'not_found', 'model', 'model_not_found');
    case 408:
      return errorBody('The request timed out.', 'timeout_error', null, 'timeout');
    case 409:
      return errorBody('The request conflicts with another request.', 'invalid_request_error', null, 'conflict');
    case 413:
      return errorBody('The request body is too large.', 'invalid_request_error', null, 'request_too_large');
    case 422:
      return errorBody('The request could not be processed.', 'invalid_request_error', null, 'unprocessable_entity');
    case 429:
      return errorBody('Rate limit reached. Please retry after a delay.', 'too_many_requests', null, 'rate_limit_exceeded');
    case 503:
      return errorBody('The server is overloaded. Please retry after a delay.', 'server_error', null, 'service_unavailable');
    default:
      return status >= 500
        ? errorBody('The server had an error while processing the request.', 'server_error', null, 'server_error')
        : errorBody(`The request failed with status ${status}.`, 'invalid_request_error', null, `http_${status}`);
  }
}
