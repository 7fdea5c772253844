import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';

/** A new TOTP seed (base32, 160 bits) and what an authenticator app needs to add it. */
export async function newTotpEnrolment(issuer: string, label: string): Promise<{ secret: string; uri: string; qrDataUrl: string }> {
  const secret = generateSecret();
  const uri = generateURI({ issuer, label, secret });
  // Rendered here, not in the browser: the seed never reaches a third-party QR service.
  const qrDataUrl = await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 1, width: 220 });
  return { secret, uri, qrDataUrl };
}

/**
 * The time step a 6-digit code belongs to, accepting one step either side for clock drift
 * (RFC 6238 §5.2), or undefined. Callers store the step so the same code can't be used twice.
 */
export async function totpStep(secret: string, code: string, nowSeconds: number): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const result = await verify({ secret, token: code, epoch: nowSeconds, epochTolerance: 30 });
  return result.valid ? (result as { timeStep: number }).timeStep : undefined;
}
