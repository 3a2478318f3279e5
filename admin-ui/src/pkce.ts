/** PKCE (RFC 7636) with S256, on the browser's WebCrypto: a random verifier and its challenge. */

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** 32 random bytes as base64url: 43 characters, the shortest verifier RFC 7636 allows (high entropy all the same). */
export function randomVerifier(cryptoImpl: Crypto = globalThis.crypto): string {
  return base64url(cryptoImpl.getRandomValues(new Uint8Array(32)));
}

export async function challengeFor(verifier: string, cryptoImpl: Crypto = globalThis.crypto): Promise<string> {
  const digest = await cryptoImpl.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}
