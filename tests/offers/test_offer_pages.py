"""The member sees an offer of freed time on the request's page and in the inbox, in zh-CN and
English, with Accept / Decline while it is open; accepting books it, a closed offer is refused in
the reader's words; forms need CSRF; another enterprise's offer is 404."""

from __future__ import annotations

from booking_api.accounts import User, set_password
from instruments.actor import SYSTEM
from scheduler.jobs import run_time_offers
from tests.booking_api.test_web_signin import PASSWORD, csrf_of, sign_in

from .helpers import live, now_of, offers_of
from .test_time_offers import _cancelled_slot

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def _signed_in(client, session, actor):  # noqa: ANN001, ANN202
    user = session.get(User, actor.user_id)
    set_password(session, SYSTEM, user, PASSWORD)
    session.commit()
    assert sign_in(client, user.email).status_code == 303
    return client


def _offered(db, session, w):  # noqa: ANN001, ANN202
    _, high = _cancelled_slot(session, w)
    high_id = high.id
    run_time_offers(db.url, now=now_of(w))
    (offer,) = offers_of(session)
    ids = high_id, offer.id
    session.commit()  # SQLite: no read of the test's may hold the pages' writes
    return ids


def test_the_request_page_and_the_inbox_show_the_offer_with_its_buttons(db, session, w, client):
    high, offer = _offered(db, session, w)
    b = _signed_in(client, session, w.member_b)
    page = b.get(f"/my/requests/{high}", headers=ZH)
    assert page.status_code == 200
    assert "为此申请提供的空出时段" in page.text and "接受并预约" in page.text and "谢绝" in page.text
    assert f'action="/my/offers/{offer}/accept"' in page.text
    assert "Powder XRD空出时段" in page.text and "(Asia/Shanghai)" in page.text
    inbox = b.get("/my/notifications", headers=EN)
    assert inbox.status_code == 200 and "Accept and book" in inbox.text and f"/my/offers/{offer}/decline" in inbox.text
    assert "Time offered: Powder XRD" in inbox.text
    zh_inbox = b.get("/my/notifications", headers=ZH)
    assert "空出时段可预约" in zh_inbox.text


def test_accepting_on_the_page_books_and_a_second_accept_is_refused_in_words(db, session, w, client):
    high, offer = _offered(db, session, w)
    b = _signed_in(client, session, w.member_b)
    page = b.get(f"/my/requests/{high}", headers=ZH)
    token = csrf_of(page.text)
    nocsrf = b.post(f"/my/offers/{offer}/accept", data={"back": "request"})
    assert nocsrf.status_code == 403, nocsrf.text[-1500:]  # no CSRF
    done = b.post(f"/my/offers/{offer}/accept", data={"csrf": token, "back": "request"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/my/requests/{high}"
    (booking,) = live(session)
    assert booking.request_id == high
    session.commit()
    again = b.post(f"/my/offers/{offer}/accept", data={"csrf": token}, headers=ZH)
    assert again.status_code == 409 and "此邀约已失效" in again.text


def test_declining_on_the_page_and_another_enterprises_offer_is_not_found(db, session, w, client):
    high, offer = _offered(db, session, w)
    a = _signed_in(client, session, w.member_a)
    token = csrf_of(a.get("/my/requests", headers=ZH).text)
    session.commit()
    assert a.post(f"/my/offers/{offer}/decline", data={"csrf": token}).status_code == 404
    client.cookies.clear()
    b = _signed_in(client, session, w.member_b)
    token = csrf_of(b.get("/my/notifications").text)
    session.commit()
    done = b.post(f"/my/offers/{offer}/decline", data={"csrf": token, "back": "inbox"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/my/notifications"
    assert {o.request_id: o.status for o in offers_of(session)}[high] == "declined"


def test_the_request_form_offers_auto_booking(db, session, w, client):
    a = _signed_in(client, session, w.member_a)
    form = a.get("/my/requests/new", headers=ZH)
    assert form.status_code == 200 and 'name="auto_book"' in form.text and "直接为我预约" in form.text
