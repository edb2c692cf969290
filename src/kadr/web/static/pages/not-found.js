// The 404 page: a path the app has no page for, or an id the API does not know (also another
// user's: the API answers 404 for those, never 403, so nobody learns what exists).

import { h, setTitle } from "../ui.js";

export async function render(main) {
  setTitle("Not found");
  main.append(
    h("h1", {}, "Page not found"),
    h(
      "p",
      {},
      "There is nothing here: the address is wrong, what it showed was deleted, or it belongs to another account.",
    ),
    h("p", {}, h("a", { href: "/videos", class: "button" }, "Go to your videos")),
  );
}
