/**
 * Base64 for the handshake, on Web built-ins only.
 *
 * @module
 */

/**
 * Encodes bytes as base64.
 *
 * @example
 * ```ts
 * console.log(encodeBase64(new Uint8Array([0, 1, 2]))); // AAEC
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

/**
 * Decodes base64 into bytes.
 *
 * @example
 * ```ts
 * console.log(decodeBase64("AAEC")); // Uint8Array [0, 1, 2]
 * ```
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
