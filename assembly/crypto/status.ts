// Status codes of the crypto area (see assembly/status.ts for the ranges: -100 .. -149).

/** base64 input holds a character outside the standard alphabet (A-Z a-z 0-9 + /, '=' padding). */
export const E_CRYPTO_BASE64_BAD_CHAR: i32 = -100;
/** base64 input length is not a multiple of 4 (padding is required). */
export const E_CRYPTO_BASE64_BAD_LENGTH: i32 = -101;
/** '=' where it cannot be, more than two of them, or non-zero bits hidden under the padding. */
export const E_CRYPTO_BASE64_BAD_PADDING: i32 = -102;

export function cryptoStatusName(code: i32): string | null {
  switch (code) {
    case E_CRYPTO_BASE64_BAD_CHAR: return "CRYPTO_BASE64_BAD_CHAR";
    case E_CRYPTO_BASE64_BAD_LENGTH: return "CRYPTO_BASE64_BAD_LENGTH";
    case E_CRYPTO_BASE64_BAD_PADDING: return "CRYPTO_BASE64_BAD_PADDING";
  }
  return null;
}
