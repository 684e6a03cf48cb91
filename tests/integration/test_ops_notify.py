"""Notification routes other than webhooks, and what happens when one
cannot deliver: a command route gets each transition as JSON on its
standard input with $KANRI_KEY; a rate-limited route holds the excess back
rather than dropping it; a delivery that keeps failing is given up after
notify_give_up, and that is an event itself."""
import json
from datetime import datetime
import os

from test_ops import RULE, conf, guest_push, wait_incident


def test_command_route_gets_json_and_key(kanrid_factory, tmp_path):
    out = tmp_path / "got"
    out.mkdir()
    route = (f"[route:cmd]\ntype = command\ncommand = sh -c 'cat > {out}/$KANRI_KEY.json'\n"
             "min_severity = info\n")
    k = kanrid_factory(args=["--connect", "test:///default"], config=conf(rules=RULE + route))
    guest_push(k)
    inc = wait_incident(k, "rule/vcpus")
    key = f"kanri-{inc['id']}-1"
    k.wait_for(lambda: (out / f"{key}.json").exists() and (out / f"{key}.json").stat().st_size,
               what="the command's output")
    body = json.loads((out / f"{key}.json").read_text())
    assert body["key"] == key and body["transition"] == "opened"
    assert body["incident"]["condition"] == "rule/vcpus"
    k.wait_for(lambda: k.get(f"/api/v1/incidents/{inc['id']}").json["deliveries"][0]["state"]
               == "delivered", what="delivered")


def test_rate_limit_holds_back_and_give_up_is_an_event(kanrid_factory):
    # Port 1: nothing listens, every attempt fails at once.
    routes = ("[route:slow]\ntype = syslog\nmin_severity = info\nrate_per_min = 1\n"
              "[route:dead]\ntype = webhook\nurl = http://127.0.0.1:1/hook\nmin_severity = info\n")
    extra = "[ops]\nnotify_give_up = 3s\n"
    k = kanrid_factory(args=["--connect", "test:///default"],
                       config=conf(rules=RULE + routes, extra=extra))
    guest_push(k)
    inc = wait_incident(k, "rule/vcpus")
    assert k.post(f"/api/v1/incidents/{inc['id']}/acknowledge", {}).status == 200

    def deliveries():
        return k.get(f"/api/v1/incidents/{inc['id']}").json["deliveries"]

    # syslog: the first transition goes out, the second waits for the next
    # minute (pending, "rate limit"), it is not dropped.
    def held():
        slow = sorted((d for d in deliveries() if d["route"] == "slow"), key=lambda d: d["id"])
        return len(slow) == 2 and slow[0]["state"] == "delivered" and \
            slow[1]["state"] == "pending" and slow[1]["last_error"] == "rate limit" and slow
    slow = k.wait_for(held, what="the second syslog delivery held back")
    # ...until a minute after the first went out (a sliding minute, not
    # the next minute on the clock).
    def secs(t):
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    assert abs(secs(slow[1]["next_try"]) - secs(slow[0]["done"]) - 60) <= 1, slow

    # the dead webhook: retried, then given up after 3 s, which is an event
    def given_up():
        dead = [d for d in deliveries() if d["route"] == "dead"]
        return len(dead) == 2 and all(d["state"] == "failed" for d in dead) and dead
    dead = k.wait_for(given_up, timeout=30, what="the dead route given up")
    assert all(d["attempts"] >= 2 and "connect" in d["last_error"].lower() for d in dead), dead
    evs = k.get("/api/v1/events?kind=notification.failed").json["events"]
    assert len(evs) == 2 and all(e["item"] == "kanrid" for e in evs)
    assert "given up" in evs[0]["message"]
    m = k.get("/metrics").body
    assert 'kanri_notifications_total{result="failed"} 2' in m


def test_silent_guest_agent_is_an_incident_until_heard_again(kanrid_factory):
    """kanri-guestd that stops pushing for agent_silent_after is an
    incident on its agent item; its next push resolves it."""
    k = kanrid_factory(args=["--connect", "test:///default"],
                       config=conf(extra="[ops]\nagent_silent_after = 2s\n"))
    guest_push(k)
    inc = wait_incident(k, "agent-silent")
    assert inc["item"].startswith("agent:") and inc["item_name"] == "test"
    assert "silent since" in inc["title"] and inc["severity"] == "warning"
    guest_push(k)
    # Heard again: resolved (it falls silent again 2 s later and reopens,
    # so the log is what is checked, not the state of the moment).
    k.wait_for(lambda: "resolved" in [x["what"] for x in
                                      k.get(f"/api/v1/incidents/{inc['id']}").json["log"]],
               what="resolved once heard again")
