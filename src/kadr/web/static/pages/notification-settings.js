// Notification settings: which events you hear about, and where besides the inbox: email (when
// the server has SMTP), your Telegram chats and webhooks (channels you added on /channels).

import { ApiError, api } from "../api.js";
import { field, h, messageArea, setTitle } from "../ui.js";
import { EVENT_TITLES } from "./inbox.js";

function checkboxes(legend, options, chosen, empty) {
  const boxes = options.map(([value, text]) =>
    h("input", { type: "checkbox", value, defaultChecked: chosen.includes(value), "data-label": text }),
  );
  const set = h(
    "fieldset",
    {},
    h("legend", {}, legend),
    boxes.length ? boxes.map((box) => field(box.dataset.label, box)) : h("p", { class: "hint" }, empty),
  );
  set.values = () => boxes.filter((box) => box.checked).map((box) => box.value);
  return set;
}

export async function render(main, { signal }) {
  setTitle("Notification settings");
  const [current, channels] = await Promise.all([
    api("/v1/notification-settings", { signal }),
    api("/v1/channels?limit=200", { signal }),
  ]);
  const ofKind = (kind) => channels.items.filter((c) => c.kind === kind).map((c) => [c.id, c.name]);
  const events = checkboxes("Send me a notification when", Object.entries(EVENT_TITLES), current.events, "");
  const emailOn = h("input", { type: "checkbox", defaultChecked: current.email_enabled, disabled: !current.email_available });
  const address = h("input", {
    type: "email",
    value: current.email_address ?? "",
    placeholder: "Your account's address",
    disabled: !current.email_available,
    autocomplete: "email",
  });
  const noChat = h("span", {}, "No Telegram chats yet: add one on ", h("a", { href: "/channels" }, "Channels"), ".");
  const noHook = h("span", {}, "No webhooks yet: add one on ", h("a", { href: "/channels" }, "Channels"), ".");
  const telegram = checkboxes("Telegram chats", ofKind("telegram"), current.telegram_channel_ids, noChat);
  const webhooks = checkboxes("Webhooks", ofKind("webhook"), current.webhook_channel_ids, noHook);
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Save");
  const form = h(
    "form",
    { class: "card narrow-wide" },
    events,
    h(
      "fieldset",
      {},
      h("legend", {}, "Email"),
      current.email_available
        ? null
        : h("p", { class: "hint" }, "This server has no mail server configured (KADR_SMTP_HOST), so kadr sends no email."),
      field("Send me email", emailOn),
      field("To", address, "Empty: your account's address."),
    ),
    telegram,
    webhooks,
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    submit.disabled = true;
    try {
      await api("/v1/notification-settings", {
        method: "PUT",
        json: {
          events: events.values(),
          email_enabled: emailOn.checked,
          email_address: address.value.trim() || null,
          telegram_channel_ids: telegram.values(),
          webhook_channel_ids: webhooks.values(),
        },
      });
      message.show("Saved.", "success");
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      message.show(error.message);
    } finally {
      submit.disabled = false;
    }
  });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "/inbox" }, "Inbox")),
    h("h1", {}, "Notification settings"),
    h("p", { class: "muted" }, "Everything shows in your inbox; choose what is also sent, and where."),
    form,
  );
}
