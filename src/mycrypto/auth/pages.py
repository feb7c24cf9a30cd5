"""The few server-rendered pages behind email links (verify email, choose a new password).

They work with nothing but a browser: no script, no inline style (the CSP allows neither), the
app stylesheet, and a plain HTML form for the new password. Browsers get HTML; API clients that do
not ask for text/html get the usual JSON.
"""
from __future__ import annotations

import html

from starlette.responses import HTMLResponse


def wants_html(accept: str | None) -> bool:
    return bool(accept) and "text/html" in accept  # type: ignore[operator]


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           f"<title>{html.escape(title)} - MyCrypto</title><link rel=\"stylesheet\" href=\"/static/app.css\">"
           f"</head><body><main class=\"auth-page\"><h1>{html.escape(title)}</h1>{body}</main></body></html>")
    return HTMLResponse(doc, status_code=status, headers={"Cache-Control": "no-store"})


def verified_page(already: bool) -> HTMLResponse:
    text = "Your email address was already confirmed." if already else "Your email address is confirmed."
    return page("Email confirmed", f"<p>{text}</p><p><a href=\"/\">Continue to MyCrypto and sign in</a></p>")


def error_page(title: str, message: str, code: str, status: int) -> HTMLResponse:
    return page(title, f"<p>{html.escape(message)}</p><p><small>Error code: {html.escape(code)}</small></p>"
                "<p><a href=\"/\">Back to MyCrypto</a></p>", status)


def reset_form_page(token: str, error: str | None = None, status: int = 200) -> HTMLResponse:
    err = f"<p class=\"error\" role=\"alert\">{html.escape(error)}</p>" if error else ""
    return page("Choose a new password", err +
                "<form method=\"post\" action=\"/api/v1/auth/reset-password/form\">"
                f"<input type=\"hidden\" name=\"token\" value=\"{html.escape(token, quote=True)}\">"
                "<label>New password (at least 12 characters)<br>"
                "<input type=\"password\" name=\"new_password\" minlength=\"12\" maxlength=\"256\" required "
                "autocomplete=\"new-password\"></label><p><button type=\"submit\">Set password</button></p>"
                "</form><p><small>Setting a new password signs you out on every device.</small></p>", status)


def reset_done_page() -> HTMLResponse:
    return page("Password changed", "<p>Your password was changed and every session was signed out.</p>"
                "<p><a href=\"/\">Sign in with your new password</a></p>")
