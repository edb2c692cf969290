// Channels: where publications go. Their health (working, needs reconnecting, not working and
// why), check now, delete; connect YouTube (Google's consent screen, then back here through the
// API's callback: /channels?connected=<id> or ?connect_error=<reason>), add a Telegram chat
// (Telegram's refusal shown as it said it), add a webhook (its signing secret shown once).

import { ApiError, api } from "../api.js";
import { dangerButton, field, formatDate, h, messageArea, secretField, setTitle, statusBadge } from "../ui.js";

const KIND_WORDS = { youtube: "YouTube", telegram: "Telegram", webhook: "Webhook" };

function where(channel) {
  const config = channel.config || {};
  if (channel.kind === "youtube") return config.custom_url || channel.external_id || "";
  if (channel.kind === "telegram") return config.username ? `@${config.username}` : `chat ${config.chat_id}`;
  if (channel.kind === "webhook") return config.url;
  return "";
}

/** A 4xx/501/502 in words for the form that caused it; anything else is the page's problem. */
function refused(error, message) {
  if (!(error instanceof ApiError) || error.status > 502) throw error;
  message.show(error.message);
}

function channelCard(channel, reload, highlight) {
  const message = messageArea();
  const check = h("button", { type: "button", "aria-label": `Check ${channel.name} now` }, "Check now");
  check.addEventListener("click", async () => {
    message.clear();
    check.disabled = true;
    try {
      const checked = await api(`/v1/channels/${encodeURIComponent(channel.id)}/check`, { method: "POST" });
      await reload(checked.status === "ok" ? `${checked.name} works.` : null, checked.id);
    } catch (error) {
      refused(error, message);
    } finally {
      check.disabled = false;
    }
  });
  const remove = dangerButton("Delete", "Press again to delete", `Delete ${channel.name}`, async () => {
    await api(`/v1/channels/${encodeURIComponent(channel.id)}`, { method: "DELETE" });
    await reload(`${channel.name} was deleted, with its scheduled publications.`);
  });
  const reconnect =
    channel.kind === "youtube" && channel.status === "needs_reauth"
      ? h("button", { type: "button", class: "primary", onclick: () => connectYouTube(message) }, "Reconnect")
      : null;
  return h(
    "li",
    { class: `channel card${highlight ? " just-added" : ""}`, "data-channel": channel.id },
    h(
      "div",
      { class: "heading-row" },
      h("h3", {}, channel.name),
      statusBadge(channel.status),
    ),
    h("p", { class: "facts" }, KIND_WORDS[channel.kind] ?? channel.kind, " · ", h("span", { class: "where" }, where(channel))),
    channel.status_reason ? h("p", { class: channel.status === "ok" ? "muted" : "error" }, channel.status_reason) : null,
    h("p", { class: "muted small" }, `Checked ${channel.checked_at ? formatDate(channel.checked_at) : "never"} · added ${formatDate(channel.created_at)}`),
    h("div", { class: "actions" }, reconnect, check, remove),
    message,
  );
}

async function connectYouTube(message) {
  message.clear();
  try {
    const link = await api("/v1/channels/youtube/connect");
    location.assign(link.authorization_url); // Google, then the API's callback, then back here
  } catch (error) {
    refused(error, message);
  }
}

function youtubeSection() {
  const message = messageArea();
  const start = h("button", { type: "button", class: "primary" }, "Connect YouTube");
  start.addEventListener("click", async () => {
    start.disabled = true;
    await connectYouTube(message);
    start.disabled = false;
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "youtube-heading" },
    h("h3", { id: "youtube-heading" }, "YouTube"),
    h("p", { class: "hint" }, "Google asks you to choose the account and allow kadr to upload; then you come back here."),
    start,
    message,
  );
}

function telegramForm(reload) {
  const name = h("input", { type: "text", maxLength: 200, placeholder: "The chat's title" });
  const token = h("input", { type: "password", required: true, autocomplete: "off", spellcheck: false });
  const chat = h("input", { type: "text", required: true, maxLength: 64, placeholder: "-1001234567890 or @channel" });
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Add Telegram chat");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "telegram-heading" },
    h("h3", { id: "telegram-heading" }, "Telegram"),
    field("Bot token", token, "From @BotFather. Add the bot to the chat (as an admin of a channel) first."),
    field("Chat id", chat, "A numeric id, or @username of a public channel."),
    field("Name (optional)", name),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    submit.disabled = true;
    try {
      const body = { bot_token: token.value.trim(), chat_id: chat.value.trim() };
      if (name.value.trim()) body.name = name.value.trim();
      const channel = await api("/v1/channels/telegram", { method: "POST", json: body });
      form.reset();
      await reload(`Telegram chat ${channel.name} was added.`, channel.id);
    } catch (error) {
      refused(error, message);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function webhookForm(reload, fresh) {
  const name = h("input", { type: "text", required: true, maxLength: 200, placeholder: "CMS" });
  const url = h("input", { type: "url", required: true, maxLength: 2048, placeholder: "https://example.com/hooks/kadr" });
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Add webhook");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "webhook-heading" },
    h("h3", { id: "webhook-heading" }, "Webhook"),
    field("Name", name),
    field("URL", url, "kadr POSTs each publication there, signed (Standard Webhooks), with a link to the file."),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    submit.disabled = true;
    try {
      const channel = await api("/v1/channels/webhook", {
        method: "POST",
        json: { name: name.value.trim(), url: url.value.trim() },
      });
      form.reset();
      await reload(null, channel.id);
      fresh.replaceChildren(
        h(
          "section",
          { class: "card secret-box", "aria-labelledby": "secret-heading" },
          h("h2", { id: "secret-heading" }, `The signing secret of “${channel.name}”`),
          h("p", { role: "status" }, "Copy it now: this is the only time kadr shows it."),
          secretField("Signing secret", channel.signing_secret),
          h("p", { class: "hint" }, "Your receiver checks each delivery's webhook-signature header with it."),
        ),
      );
      fresh.querySelector("input").focus();
    } catch (error) {
      refused(error, message);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function render(main, { query, signal }) {
  setTitle("Channels");
  const news = h("div", { "aria-live": "polite" });
  const fresh = h("div", {});
  const list = h("div", {});
  const heading = h("h2", {});
  const draw = (channels, highlight) => {
    heading.textContent = `Your channels (${channels.length})`;
    list.replaceChildren(
      channels.length
        ? h("ul", { class: "channel-list" }, channels.map((channel) => channelCard(channel, reload, channel.id === highlight)))
        : h("p", { class: "empty" }, "No channels yet. Connect YouTube, add a Telegram chat or a webhook below: publications go to them."),
    );
  };
  const reload = async (text = null, highlight = null) => {
    draw((await api("/v1/channels?limit=200")).items, highlight);
    news.replaceChildren(text ? h("p", { class: "success", role: "status" }, text) : "");
  };
  const page = await api("/v1/channels?limit=200", { signal });
  const connected = query.get("connected");
  draw(page.items, connected);
  if (connected) {
    const channel = page.items.find((item) => item.id === connected);
    if (channel) news.replaceChildren(h("p", { class: "success", role: "status" }, `YouTube channel ${channel.name} is connected.`));
  }
  if (query.get("connect_error")) {
    news.replaceChildren(h("p", { class: "error", role: "alert" }, `YouTube was not connected: ${query.get("connect_error")}`));
  }
  main.append(
    h("h1", {}, "Channels"),
    h("p", { class: "muted" }, "Where kadr publishes: YouTube channels, Telegram chats and webhooks. kadr checks each one before its next slot."),
    news,
    fresh,
    heading,
    list,
    h("h2", {}, "Add a channel"),
    h("div", { class: "add-channels" }, youtubeSection(), telegramForm(reload), webhookForm(reload, fresh)),
  );
}
