// Status codes of the iothub area (see assembly/status.ts for the ranges: -150 .. -299).

/** Connection string: a segment without '=' or with an empty name. */
export const E_CS_MALFORMED: i32 = -150;
/** Connection string: a known key given twice. */
export const E_CS_DUPLICATE_KEY: i32 = -151;
/** Connection string: a known key with an empty value. */
export const E_CS_EMPTY_VALUE: i32 = -152;
/** Connection string: no HostName. */
export const E_CS_MISSING_HOSTNAME: i32 = -153;
/** Connection string: no DeviceId. */
export const E_CS_MISSING_DEVICE_ID: i32 = -154;
/** Connection string: SharedAccessKey is not valid base64 (or decodes to nothing / more than 64 bytes). */
export const E_CS_BAD_KEY: i32 = -155;
/** Connection string: neither SharedAccessKey nor x509=true nor SharedAccessSignature. */
export const E_CS_MISSING_CREDENTIAL: i32 = -156;
/** Connection string: x509=true together with SharedAccessKey. */
export const E_CS_KEY_AND_X509: i32 = -157;
/** Connection string: x509 is neither true nor false. */
export const E_CS_BAD_X509: i32 = -158;
/** A decoded key is longer than the 64-byte key buffer. */
export const E_KEY_TOO_LONG: i32 = -160;
/** A key is empty. */
export const E_KEY_EMPTY: i32 = -161;
/** A device/module/registration id is empty. */
export const E_ID_EMPTY: i32 = -162;
/** A device/module/registration id is longer than 128 characters. */
export const E_ID_TOO_LONG: i32 = -163;
/** A device/module id holds a character IoT Hub does not allow (ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ '). */
export const E_ID_BAD_CHAR: i32 = -164;
/** An id allowed by the hub but unusable in an MQTT topic ('+' or '#' are wildcards). */
export const E_ID_NOT_TOPIC_SAFE: i32 = -165;
/** A request id is empty or holds a character that would break the topic ('&' '/' '+' '#' '?' ' ' or control). */
export const E_BAD_REQUEST_ID: i32 = -166;
/** A '%' not followed by two hex digits. */
export const E_URL_BAD_ESCAPE: i32 = -167;
/** A property bag entry with an empty name. */
export const E_BAG_EMPTY_NAME: i32 = -168;
/** The topic is not of the kind asked for. */
export const E_TOPIC_NOT_MATCHED: i32 = -169;
/** The topic starts like a known kind but its rest is malformed (missing $rid, bad status...). */
export const E_TOPIC_MALFORMED: i32 = -170;
/** A SAS expiry is negative. */
export const E_BAD_EXPIRY: i32 = -171;
/** A status code outside 0..65535. */
export const E_BAD_STATUS: i32 = -172;
/** An unknown system-property index. */
export const E_BAD_SYSTEM_PROPERTY: i32 = -173;
/** A host name that is empty or holds a character that cannot be in a host name. */
export const E_BAD_HOST: i32 = -174;

export function iothubStatusName(code: i32): string | null {
  switch (code) {
    case E_CS_MALFORMED: return "CS_MALFORMED";
    case E_CS_DUPLICATE_KEY: return "CS_DUPLICATE_KEY";
    case E_CS_EMPTY_VALUE: return "CS_EMPTY_VALUE";
    case E_CS_MISSING_HOSTNAME: return "CS_MISSING_HOSTNAME";
    case E_CS_MISSING_DEVICE_ID: return "CS_MISSING_DEVICE_ID";
    case E_CS_BAD_KEY: return "CS_BAD_KEY";
    case E_CS_MISSING_CREDENTIAL: return "CS_MISSING_CREDENTIAL";
    case E_CS_KEY_AND_X509: return "CS_KEY_AND_X509";
    case E_CS_BAD_X509: return "CS_BAD_X509";
    case E_KEY_TOO_LONG: return "KEY_TOO_LONG";
    case E_KEY_EMPTY: return "KEY_EMPTY";
    case E_ID_EMPTY: return "ID_EMPTY";
    case E_ID_TOO_LONG: return "ID_TOO_LONG";
    case E_ID_BAD_CHAR: return "ID_BAD_CHAR";
    case E_ID_NOT_TOPIC_SAFE: return "ID_NOT_TOPIC_SAFE";
    case E_BAD_REQUEST_ID: return "BAD_REQUEST_ID";
    case E_URL_BAD_ESCAPE: return "URL_BAD_ESCAPE";
    case E_BAG_EMPTY_NAME: return "BAG_EMPTY_NAME";
    case E_TOPIC_NOT_MATCHED: return "TOPIC_NOT_MATCHED";
    case E_TOPIC_MALFORMED: return "TOPIC_MALFORMED";
    case E_BAD_EXPIRY: return "BAD_EXPIRY";
    case E_BAD_STATUS: return "BAD_STATUS";
    case E_BAD_SYSTEM_PROPERTY: return "BAD_SYSTEM_PROPERTY";
    case E_BAD_HOST: return "BAD_HOST";
  }
  return null;
}
