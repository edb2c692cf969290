// Sign in: email and password for a cookie session, then back to where the user was going.

import { ApiError, signIn } from "../api.js";
import { navigate, safeNext } from "../router.js";
import { field, h, messageArea, setTitle } from "../ui.js";

export async function render(main, { query }) {
  setTitle("Sign in");
  const next = safeNext(query.get("next"));
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: "current-password",
    required: true,
  });
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow", novalidate: false },
    field("Email", email),
    field("Password", password),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    submit.disabled = true;
    try {
      await signIn(email.value, password.value);
      await navigate(next, { replace: true });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      message.show(error.message);
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  const notes = [];
  if (query.has("expired")) {
    notes.push(h("p", { class: "notice", role: "status" }, "Your session has ended. Sign in to go on where you were."));
  }
  if (query.has("signed-out")) notes.push(h("p", { class: "notice", role: "status" }, "You are signed out."));
  main.append(
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "kadr turns your videos into transcripts, highlights and clips, on your own server."),
    ...notes,
    form,
    h("p", {}, "No account yet? ", h("a", { href: `/sign-up${next !== "/videos" ? `?next=${encodeURIComponent(next)}` : ""}` }, "Sign up")),
  );
  email.focus();
}
