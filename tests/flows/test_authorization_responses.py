"""What an authorization response carries and how it travels: every one, success or error,
names the issuer (RFC 9207), as discovery says; it comes back in the query, the only response
mode there is, and a request for another mode is refused, not silently answered in the query."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.flows.conftest import RP1, RP2
from tests.support.oidc_client import callback_params, csrf_of, follow, login, sign_in

ISSUER = "https://id.campus.test"


def redirect_params(response: TestResponse) -> dict[str, list[str]]:
    """Every parameter of the redirect, repeated ones kept, fragment included."""
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    location = urlsplit(response.headers["Location"])
    assert not location.fragment
    return parse_qs(location.query)


def test_discovery_advertises_the_iss_parameter_and_query_mode_only(browser: FlaskClient) -> None:
    meta = browser.get("/.well-known/openid-configuration").json
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["response_modes_supported"] == ["query"]


def test_a_code_comes_with_the_issuer(browser: FlaskClient) -> None:
    result = sign_in(browser, RP1, "demo@tpu.ru", "demo")
    assert result["iss"] == ISSUER and result["code"]
    again = browser.get("/authorize", query_string=RP1.params(prompt="none"))
    assert redirect_params(again)["iss"] == [ISSUER]
    assert RP1.token(browser, callback_params(again)["code"]).status_code == 200


def test_every_error_redirect_comes_with_the_issuer(browser: FlaskClient) -> None:
    login_required = browser.get("/authorize", query_string=RP1.params(prompt="none"))
    plain_pkce = browser.get("/authorize", query_string=RP1.params(code_challenge_method="plain"))
    no_pkce = browser.get("/authorize", query_string=RP1.params(code_challenge=None,
                                                                  code_challenge_method=None))
    denied = sign_in(browser, RP1, "demo@tpu.ru", "demo", consent="deny")
    consent_required = browser.get("/authorize", query_string=RP2.params(prompt="none"))
    for response in (login_required, plain_pkce, no_pkce, consent_required):
        params = redirect_params(response)
        assert params.get("iss") == [ISSUER] and params["error"], response.headers["Location"]
    assert denied["error"] == "access_denied" and denied["iss"] == ISSUER


def test_an_error_page_is_no_authorization_response(browser: FlaskClient) -> None:
    """An unregistered redirect URI: nothing goes to it, so nothing to name an issuer in."""
    response = browser.get("/authorize", query_string=RP1.params(redirect_uri="https://evil.example/cb"))
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize("mode", ["fragment", "form_post", "query.jwt", "jwt", "nonsense"])
def test_an_unsupported_response_mode_is_refused(browser: FlaskClient, mode: str) -> None:
    """OAuth 2.0 Multiple Response Type Encoding Practices 2.1 lets a client ask for a mode;
    one the provider does not have is an invalid_request told in the query (the only mode
    it has, and the default for code), never a code in a mode the client did not ask for."""
    params = RP1.params(response_mode=mode)
    first = browser.get("/authorize", query_string=params)
    sign_in(browser, RP1, "demo@tpu.ru", "demo")
    signed_in = browser.get("/authorize", query_string=params)
    for response in (first, signed_in):
        result = redirect_params(response)
        assert result["error"] == ["invalid_request"] and "code" not in result
        assert "response_mode" in result["error_description"][0]
        assert result["state"] == [params["state"]] and result["iss"] == [ISSUER]


def test_response_mode_query_is_the_default_spelled_out(browser: FlaskClient) -> None:
    params = RP1.params(response_mode="query")
    page = browser.get("/authorize", query_string=params)
    consent = follow(browser, login(browser, page, "demo@tpu.ru", "demo"))
    response = browser.post("/authorize", query_string=params,
                            data={"csrf_token": csrf_of(consent), "consent": "allow"})
    assert callback_params(response)["code"]


def test_a_pushed_request_with_an_unsupported_response_mode_is_refused(browser: FlaskClient) -> None:
    response = browser.post("/par", data=RP1.params(response_mode="form_post"),
                            auth=(RP1.client_id, RP1.secret or ""))
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert "response_mode" in response.json["error_description"]
