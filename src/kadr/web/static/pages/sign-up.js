// Sign up: an account (email, password, the name others see, time zone), then signed in.

import { ApiError, signUp } from "../api.js";
import { navigate, safeNext } from "../router.js";
import { field, h, messageArea, setTitle } from "../ui.js";

export const MIN_PASSWORD_LENGTH = 10;

export async function render(main, { query }) {
  setTitle("Sign up");
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", {
    type: "password",
    name: "new-password",
    autocomplete: "new-password",
    minLength: MIN_PASSWORD_LENGTH,
    required: true,
  });
  const name = h("input", { type: "text", name: "name", autocomplete: "name", maxLength: 100 });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Create account");
  const form = h(
    "form",
    { class: "card narrow" },
    field("Email", email),
    field("Password", password, `At least ${MIN_PASSWORD_LENGTH} characters.`),
    field("Your name (optional)", name),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    submit.disabled = true;
    const fields = { email: email.value, password: password.value, display_name: name.value };
    if (zone) fields.timezone = zone;
    try {
      await signUp(fields);
      await navigate(safeNext(query.get("next")), { replace: true });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      message.show(error.message);
    } finally {
      submit.disabled = false;
    }
  });
  main.append(
    h("h1", {}, "Create your account"),
    form,
    h("p", {}, "Already have one? ", h("a", { href: "/sign-in" }, "Sign in")),
  );
  email.focus();
}
