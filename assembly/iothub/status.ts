// Status codes of the iothub area (see assembly/status.ts for the ranges: -150 .. -299).

/** Connection string: a segment without '=' or with an empty name. */
export const E_IOTHUB_CS_MALFORMED: i32 = -150;
/** Connection string: a known key given twice. */
export const E_IOTHUB_CS_DUPLICATE_KEY: i32 = -151;
/** Connection string: a known key with an empty value. */
export const E_IOTHUB_CS_EMPTY_VALUE: i32 = -152;
/** Connection string: no HostName. */
export const E_IOTHUB_CS_MISSING_HOSTNAME: i32 = -153;
/** Connection string: no DeviceId (in a shell, quote the whole string: an unquoted `;` ends it early). */
export const E_IOTHUB_CS_MISSING_DEVICE_ID: i32 = -154;
/** Connection string: SharedAccessKey is not valid base64 (or decodes to nothing / more than 64 bytes). */
export const E_IOTHUB_CS_BAD_KEY: i32 = -155;
/** Connection string: neither SharedAccessKey nor x509=true nor SharedAccessSignature. */
export const E_IOTHUB_CS_MISSING_CREDENTIAL: i32 = -156;
/** Connection string: x509=true together with SharedAccessKey. */
export const E_IOTHUB_CS_KEY_AND_X509: i32 = -157;
/** Connection string: x509 is neither true nor false. */
export const E_IOTHUB_CS_BAD_X509: i32 = -158;
/** A decoded key is longer than the 64-byte key buffer. */
export const E_IOTHUB_KEY_TOO_LONG: i32 = -160;
/** A key is empty. */
export const E_IOTHUB_KEY_EMPTY: i32 = -161;
/** A device/module/registration id is empty. */
export const E_IOTHUB_ID_EMPTY: i32 = -162;
/** A device/module/registration id is longer than 128 characters. */
export const E_IOTHUB_ID_TOO_LONG: i32 = -163;
/** A device/module id holds a character IoT Hub does not allow (ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ '). */
export const E_IOTHUB_ID_BAD_CHAR: i32 = -164;
/** An id allowed by the hub but unusable in an MQTT topic ('+' or '#' are wildcards). */
export const E_IOTHUB_ID_NOT_TOPIC_SAFE: i32 = -165;
/** A request id is empty or holds a character that would break the topic ('&' '/' '+' '#' '?' ' ' or control). */
export const E_IOTHUB_BAD_REQUEST_ID: i32 = -166;
/** A '%' not followed by two hex digits. */
export const E_IOTHUB_URL_BAD_ESCAPE: i32 = -167;
/** A property bag entry with an empty name. */
export const E_IOTHUB_BAG_EMPTY_NAME: i32 = -168;
/** The topic is not of the kind asked for. */
export const E_IOTHUB_TOPIC_NOT_MATCHED: i32 = -169;
/** The topic starts like a known kind but its rest is malformed (missing $rid, bad status...). */
export const E_IOTHUB_TOPIC_MALFORMED: i32 = -170;
/** A SAS expiry is negative. */
export const E_IOTHUB_BAD_EXPIRY: i32 = -171;
/** A status code outside 0..65535. */
export const E_IOTHUB_BAD_STATUS: i32 = -172;
/** An unknown system-property index. */
export const E_IOTHUB_BAD_SYSTEM_PROPERTY: i32 = -173;
/** A host name that is empty or holds a character that cannot be in a host name. */
export const E_IOTHUB_BAD_HOST: i32 = -174;

export function iothubStatusName(code: i32): string | null {
  switch (code) {
    case E_IOTHUB_CS_MALFORMED: return "IOTHUB_CS_MALFORMED";
    case E_IOTHUB_CS_DUPLICATE_KEY: return "IOTHUB_CS_DUPLICATE_KEY";
    case E_IOTHUB_CS_EMPTY_VALUE: return "IOTHUB_CS_EMPTY_VALUE";
    case E_IOTHUB_CS_MISSING_HOSTNAME: return "IOTHUB_CS_MISSING_HOSTNAME";
    case E_IOTHUB_CS_MISSING_DEVICE_ID: return "IOTHUB_CS_MISSING_DEVICE_ID";
    case E_IOTHUB_CS_BAD_KEY: return "IOTHUB_CS_BAD_KEY";
    case E_IOTHUB_CS_MISSING_CREDENTIAL: return "IOTHUB_CS_MISSING_CREDENTIAL";
    case E_IOTHUB_CS_KEY_AND_X509: return "IOTHUB_CS_KEY_AND_X509";
    case E_IOTHUB_CS_BAD_X509: return "IOTHUB_CS_BAD_X509";
    case E_IOTHUB_KEY_TOO_LONG: return "IOTHUB_KEY_TOO_LONG";
    case E_IOTHUB_KEY_EMPTY: return "IOTHUB_KEY_EMPTY";
    case E_IOTHUB_ID_EMPTY: return "IOTHUB_ID_EMPTY";
    case E_IOTHUB_ID_TOO_LONG: return "IOTHUB_ID_TOO_LONG";
    case E_IOTHUB_ID_BAD_CHAR: return "IOTHUB_ID_BAD_CHAR";
    case E_IOTHUB_ID_NOT_TOPIC_SAFE: return "IOTHUB_ID_NOT_TOPIC_SAFE";
    case E_IOTHUB_BAD_REQUEST_ID: return "IOTHUB_BAD_REQUEST_ID";
    case E_IOTHUB_URL_BAD_ESCAPE: return "IOTHUB_URL_BAD_ESCAPE";
    case E_IOTHUB_BAG_EMPTY_NAME: return "IOTHUB_BAG_EMPTY_NAME";
    case E_IOTHUB_TOPIC_NOT_MATCHED: return "IOTHUB_TOPIC_NOT_MATCHED";
    case E_IOTHUB_TOPIC_MALFORMED: return "IOTHUB_TOPIC_MALFORMED";
    case E_IOTHUB_BAD_EXPIRY: return "IOTHUB_BAD_EXPIRY";
    case E_IOTHUB_BAD_STATUS: return "IOTHUB_BAD_STATUS";
    case E_IOTHUB_BAD_SYSTEM_PROPERTY: return "IOTHUB_BAD_SYSTEM_PROPERTY";
    case E_IOTHUB_BAD_HOST: return "IOTHUB_BAD_HOST";
  }
  return null;
}
