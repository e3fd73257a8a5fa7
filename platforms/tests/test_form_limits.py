"""Form bodies (Twilio, Mailgun) are counted before they are parsed: a million `a=&` is refused unread."""
import pytest

from platforms import email, sms
from platforms.base import PayloadError, RawRequest
from platforms.common import MAX_FORM_FIELDS, form_field_count, form_fields

from .helpers import multipart


def request(body: bytes, content_type: str, header: str = "") -> RawRequest:
    return RawRequest(body=body, headers={"content-type": header or content_type}, url="", content_type=content_type)


def test_a_form_at_the_limit_is_parsed_and_one_over_it_is_refused():
    at_limit = "&".join(f"f{i}=v" for i in range(MAX_FORM_FIELDS)).encode()
    assert len(form_fields(request(at_limit, "application/x-www-form-urlencoded"))) == MAX_FORM_FIELDS
    with pytest.raises(PayloadError, match="more than"):
        form_fields(request(at_limit + b"&one=more", "application/x-www-form-urlencoded"))


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", ""])
def test_a_million_fields_are_refused_whatever_the_declared_type(content_type):
    hostile = request(b"a=&" * 1_000_000, content_type)
    assert form_field_count(hostile) > MAX_FORM_FIELDS
    with pytest.raises(PayloadError):
        form_fields(hostile)
    assert not sms.verify(request=hostile, secrets=["token"], now=0)
    assert not email.verify(request=hostile, secrets=["key"], now=0)


def test_multipart_parts_are_counted_by_boundary_even_when_the_type_is_bare():
    body, content_type = multipart({f"f{i}": "" for i in range(MAX_FORM_FIELDS + 1)})
    with pytest.raises(PayloadError, match="more than"):
        form_fields(request(body, content_type))
    # The endpoint passes the bare media type; the boundary is still read from the header.
    small, small_type = multipart({"recipient": "a@b.c"})
    assert form_fields(request(small, "multipart/form-data", header=small_type)) == [("recipient", "a@b.c")]
