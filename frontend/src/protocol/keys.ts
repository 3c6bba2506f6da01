/**
 * `client_key`s: what makes a retried request apply once. They need only be
 * unique per user; Hermes (iOS/Android) has no `crypto.randomUUID`, so time
 * and randomness stand in for it there.
 */
export function newClientKey(): string {
  const random = globalThis.crypto?.randomUUID?.();
  if (random !== undefined) return random;
  const part = () => Math.random().toString(36).slice(2, 12);
  return `${Date.now().toString(36)}-${part()}-${part()}`;
}
