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

/** Guard clause: throws `error` unless `condition` holds. */
export function assertThat(condition: unknown, error: AppError): asserts condition {
  if (!condition) throw error;
}
