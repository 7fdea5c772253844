// The altcha "external" build runs its proof of work in a same-origin worker file, which the CSP allows
// (worker-src 'self'); the default build would start blob: workers and inject inline styles.
globalThis.$altcha?.algorithms?.set('SHA-256', () => new Worker('/static/vendor/altcha-worker-sha.js'));
