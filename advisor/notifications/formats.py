"""An event's payload (events.Event.payload) as each kind of channel wants it.

- Slack incoming webhook: a JSON body with `text` (the notification's fallback) and Block Kit
  `blocks`, https://api.slack.com/messaging/webhooks. Limits from the Block Kit reference,
  https://api.slack.com/reference/block-kit/blocks: a header's plain text up to 150 characters, a
  section's text up to 3000, at most 10 section fields of up to 2000 each. In mrkdwn, &, < and >
  are escaped as &amp;, &lt; and &gt;, https://api.slack.com/reference/surfaces/formatting#escaping.
- Microsoft Teams incoming webhook or Workflows ("Post to a channel when a webhook request is
  received"): a message whose `attachments` hold one Adaptive Card, contentType
  application/vnd.microsoft.card.adaptive, card version 1.2, with Action.OpenUrl among the
  supported actions,
  https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook
- JSON webhook: the payload itself plus the delivery's id, signed (see `delivery.sign`).
- E-mail: a subject and a plain-text body.
"""

from __future__ import annotations

import json

SUBJECT_PREFIX = "[Redis key advisor]"
LINK_LABEL = "Open in the advisor"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(payload: dict) -> dict:
    title = payload["title"]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(_slack_escape(payload["text"]), 3000)}},
    ]
    facts = payload.get("facts") or []
    if facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": _cut(f"*{_slack_escape(f['name'])}*\n{_slack_escape(f['value'])}", 2000),
                    }
                    for f in facts[:10]
                ],
            }
        )
    if payload.get("url"):
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{payload['url']}|{LINK_LABEL}>"}],
            }
        )
    return {"text": _cut(f"{title}: {payload['text']}", 3000), "blocks": blocks}


def teams(payload: dict) -> dict:
    body: list[dict] = [
        {"type": "TextBlock", "text": payload["title"], "size": "Medium", "weight": "Bolder", "wrap": True},
        {"type": "TextBlock", "text": payload["text"], "wrap": True},
    ]
    facts = payload.get("facts") or []
    if facts:
        body.append({"type": "FactSet", "facts": [{"title": f["name"], "value": f["value"]} for f in facts]})
    card: dict = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": body,
    }
    if payload.get("url"):
        card["actions"] = [{"type": "Action.OpenUrl", "title": LINK_LABEL, "url": payload["url"]}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def webhook(payload: dict, *, delivery_id: int) -> dict:
    return {**payload, "delivery": delivery_id}


def encode(body: dict) -> bytes:
    """The exact bytes sent (and, for the JSON webhook, signed)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def email(payload: dict) -> tuple[str, str]:
    """(subject, body) of the e-mail."""
    lines = [payload["text"], ""]
    lines += [f"{f['name']}: {f['value']}" for f in payload.get("facts") or []]
    if payload.get("url"):
        lines += ["", f"{LINK_LABEL}: {payload['url']}"]
    lines += ["", f"Sent to team {payload['team']} by the Redis key advisor's notification channels."]
    return f"{SUBJECT_PREFIX} {payload['title']}", "\n".join(lines).strip() + "\n"
