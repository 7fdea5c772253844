import { z } from 'zod';

export const loginForm = z.object({
  csrf: z.string(),
  email: z.string().trim().min(1, 'Enter your email address.').max(320),
  password: z.string().min(1, 'Enter your password.').max(4096),
});

export const confirmForm = z.object({ csrf: z.string() });
