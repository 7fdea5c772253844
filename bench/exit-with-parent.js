/**
 * Preloaded (--import) into every process the bench starts: when the process that started it
 * disappears, even by SIGKILL, it stops itself (SIGTERM, so a server still drains) instead of
 * lingering on a port. A cluster worker's parent is its primary, which is how workers end too.
 */
const parent = process.ppid;
const watch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watch);
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 15_000).unref();
}, 500);
watch.unref();
