"""Binance's error codes and messages, and `Reject`, the pure refusal the adapter's rules raise.

Codes and message texts follow Binance's spot API ("Error codes for Binance"). Clients program
against the numeric code, and some (ccxt among them) also match a few message texts exactly
("Account has insufficient balance for requested action.", "Order would immediately match and
take.", "Market is closed.") or look for the filter names ("PRICE_FILTER", "LOT_SIZE"), so those
texts are kept verbatim. Where MyCrypto refuses something Binance would accept, the code is
Binance's closest one and the message says what MyCrypto supports.
"""
from __future__ import annotations

UNKNOWN = -1000
TOO_MANY_REQUESTS = -1003
TIMEOUT = -1007                   # execution status unknown
SERVER_BUSY = -1008
INVALID_MESSAGE = -1013           # filter failures
TOO_MANY_ORDERS = -1015
UNSUPPORTED_OPERATION = -1020
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
ILLEGAL_CHARS = -1100
MANDATORY_PARAM = -1102
PARAM_NOT_REQUIRED = -1106
BAD_PRECISION = -1111
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
EMPTY_NEW_CL_ORD_ID = -1118
EMPTY_ORG_CL_ORD_ID = -1119
BAD_INTERVAL = -1120
BAD_SYMBOL = -1121
BAD_COMBINATION = -1128
INVALID_PARAMETER = -1130
BAD_RECV_WINDOW = -1131
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015

MSG_UNKNOWN = "An unknown error occurred while processing the request."
MSG_INSUFFICIENT = "Account has insufficient balance for requested action."
MSG_WOULD_TAKE = "Order would immediately match and take."
MSG_MARKET_CLOSED = "Market is closed."
MSG_DUPLICATE = "Duplicate order sent."
MSG_DISABLED = "This action is disabled on this account."
MSG_UNKNOWN_ORDER = "Unknown order sent."
MSG_NO_SUCH_ORDER = "Order does not exist."
MSG_BAD_KEY_FMT = "API-key format invalid."
MSG_REJECTED_KEY = "Invalid API-key, IP, or permissions for action."
MSG_BAD_SIGNATURE = "Signature for this request is not valid."
MSG_OUTSIDE_WINDOW = "Timestamp for this request is outside of the recvWindow."
MSG_BAD_SYMBOL = "Invalid symbol."
MSG_BAD_INTERVAL = "Invalid interval."
MSG_TIMEOUT = ("Timeout waiting for response from backend server. Send status unknown; "
               "execution status unknown.")
MSG_SERVER_BUSY = "Server is currently overloaded with other requests. Please try again in a few minutes."
MSG_UNSUPPORTED = "This operation is not supported."

DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
CLIENT_ID_RANGE = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"


class Reject(Exception):
    """A request refused with a Binance code; `http_status` is what Binance answers with."""

    def __init__(self, code: int, msg: str, http_status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.headers = headers or {}


def mandatory(name: str) -> Reject:
    return Reject(MANDATORY_PARAM, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def either_mandatory(a: str, b: str) -> Reject:
    return Reject(MANDATORY_PARAM, f"Param '{a}' or '{b}' must be sent, but both were empty.")


def illegal(name: str, legal: str) -> Reject:
    return Reject(ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def not_required(name: str, why: str = "") -> Reject:
    return Reject(PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required." + (f" {why}" if why else ""))


def invalid(name: str, why: str = "") -> Reject:
    return Reject(INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid." + (f" {why}" if why else ""))


def filter_failure(name: str) -> Reject:
    return Reject(INVALID_MESSAGE, f"Filter failure: {name}")


def unsupported(what: str, http_status: int = 400) -> Reject:
    return Reject(UNSUPPORTED_OPERATION, f"{MSG_UNSUPPORTED} {what}", http_status)
