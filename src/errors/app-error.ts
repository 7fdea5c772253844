/** An error the edge turns into a status and a stable `code`; `expose` decides if its message is shown. */
export class AppError extends Error {
  readonly expose: boolean;
  constructor(readonly code: string, readonly status: number, message?: string) {
    super(message ?? code);
    this.name = new.target.name;
    this.expose = status < 500;
  }
}

export class BadRequestError extends AppError {
  constructor(code: string, message?: string) { super(code, 400, message); }
}
export class NotFoundError extends AppError {
  constructor(code: string, message?: string) { super(code, 404, message); }
}
export class ConflictError extends AppError {
  constructor(code: string, message?: string) { super(code, 409, message); }
}
export class ForbiddenError extends AppError {
  constructor(code: string, message?: string) { super(code, 403, message); }
}

/** 429: a rate limit or lockout refused the request; the edge turns `retryAfterSeconds` into `Retry-After`. */
export class TooManyRequestsError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, message = 'Too many attempts. Please wait a while and try again.') {
    super('too_many_attempts', 429, message);
    // Retry-After is a whole number of seconds, and 0 would invite an immediate retry storm.
    this.retryAfterSeconds = Number.isFinite(retryAfterSeconds) ? Math.max(1, Math.ceil(retryAfterSeconds)) : 1;
  }
}

/** 503: a dependency (e.g. the rate-limit store) failed; not exposed, so the edge shows a generic message. */
export class ServiceUnavailableError extends AppError {
  constructor(code: string, message?: string, options?: { cause?: unknown }) {
    super(code, 503, message);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/** Guard clause: throws `error` unless `condition` holds. */
export function assertThat(condition: unknown, error: AppError): asserts condition {
  if (!condition) throw error;
}
