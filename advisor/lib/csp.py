"""The Content-Security-Policy header on every response (Django 5.2 has no CSP support of its own).

The pages need nothing but their own origin: scripts, styles, fonts and images are vendored
static files, htmx and the API docs (Swagger UI, served by django-ninja from its static files)
call back to the same origin. So the policy is the strict one: no inline script, no inline
style (neither <style> elements nor style="" attributes: dynamic widths are set by
static/advisor/app.js through the CSSOM, which CSP does not govern), no eval, no framing.
`data:` images stay allowed for the SVG icons inside Bootstrap's and Swagger UI's CSS.

A page that needs more sets its own Content-Security-Policy header; this middleware then leaves it.
"""

HEADER = "Content-Security-Policy"

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
}


def header_value(policy: dict[str, list[str]]) -> str:
    return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.value = header_value(POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = self.value
        return response
