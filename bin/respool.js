#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

stopWhenLauncherGoes();

main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});

/**
 * respool runs in this process (no child of its own). Started through npx or an npm script, though,
 * it is the grandchild of npm (npm -> sh -> node), and killing the pid of `npx respool worker &` ends
 * npm and its shell without passing the signal on. So, when the process that started respool is
 * gone, respool stops as if it had got SIGTERM itself: calls in flight finish, then it exits.
 */
function stopWhenLauncherGoes() {
  if (!process.env.npm_command) return;
  const launcher = process.ppid;
  const timer = setInterval(() => {
    if (isAlive(launcher)) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, 1000);
  timer.unref();
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's process.
    return err.code === 'EPERM';
  }
}
