/**
 * The first 33 bytes of a PNG: its signature and an IHDR chunk (8-bit RGBA) naming `width` x `height`,
 * with no pixels after it. That is all a size reader looks at, so a test can ask for any size (a
 * 20000-pixel-wide image) in a few bytes. For real pixels, see photos.ts.
 */
export function pngHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8); // IHDR data length
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b[24] = 8; // bit depth
  b[25] = 6; // colour type: RGBA
  return b;
}

/** `pngHeader` as a data: URI, the form an input_image carries. */
export function pngHeaderUri(width: number, height: number): string {
  return `data:image/png;base64,${pngHeader(width, height).toString('base64')}`;
}
