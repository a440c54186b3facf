"""One loopback HTTP call to a farm process as the world makes it: the site's host in the Host
header (no name to resolve), an optional session cookie and browser. Used by the reliability tests that drive a
real granian."""
import urllib.error
import urllib.request


def http_get(port: int, path: str, *, host: str = "localhost", cookie: str = "",
             user_agent: str = "") -> tuple[int | str, str]:
    """(status, body); a refused or broken connection gives its error's name as the status."""
    headers = ({"Host": f"{host}:{port}"} | ({"Cookie": f"sessionid={cookie}"} if cookie else {})
               | ({"User-Agent": user_agent} if user_agent else {}))
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except OSError as error:
        return type(error).__name__, ""
