// A small history router: paths like /runs/:id map to page modules, loaded on first use.
// A page module exports `render(main, context)`; context has `params`, `query`, and a `signal`
// aborted when the user leaves the page (to close event streams and stop timers).

import { ApiError, ApiUnreachable, SessionExpired, refreshSession, signedIn } from "./api.js";
import { h, hideBanner, setTitle, showBanner } from "./ui.js";

const routes = [];
let notFound = null;
let outlet = null;
let leaving = null;

/** Declare a page: `route("/runs/:id", () => import("./pages/run.js"))`. */
export function route(path, load, { signedOut = false, public: open = false } = {}) {
  const keys = [];
  const source = path.replace(/:([a-z_]+)/g, (_, key) => {
    keys.push(key);
    return "([^/]+)";
  });
  routes.push({ path, pattern: new RegExp(`^${source}/?$`), keys, load, signedOut, open });
}

export function fallback(load) {
  notFound = load;
}

/** Go to a path inside the app (adds a history entry unless `replace`). */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  return render().then(() => window.scrollTo(0, 0));
}

/** Where the user is now, to come back to after signing in. */
export function here() {
  return location.pathname + location.search;
}

/** A path from ?next= that is safe to go to: inside this app, never another site. */
export function safeNext(next, otherwise = "/videos") {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : otherwise;
}

function match(pathname) {
  for (const candidate of routes) {
    const found = candidate.pattern.exec(pathname);
    if (found) {
      const params = Object.fromEntries(candidate.keys.map((key, i) => [key, decodeURIComponent(found[i + 1])]));
      return { ...candidate, params };
    }
  }
  return null;
}

/** Draw the page of the current location. */
export async function render() {
  leaving?.abort();
  const controller = new AbortController();
  leaving = controller;
  const found = match(location.pathname);
  try {
    if (found && !found.open && !found.signedOut && !signedIn() && !(await refreshSession())) {
      throw new SessionExpired();
    }
    if (found?.signedOut && signedIn()) {
      await navigate(safeNext(new URLSearchParams(location.search).get("next")), { replace: true });
      return;
    }
    const module = await (found ? found.load() : notFound());
    if (controller.signal.aborted) return;
    const main = h("div", { class: "page" });
    outlet.replaceChildren(main);
    await module.render(main, {
      params: found?.params ?? {},
      query: new URLSearchParams(location.search),
      signal: controller.signal,
    });
    if (!controller.signal.aborted) hideBanner();
  } catch (error) {
    if (!controller.signal.aborted) await showError(error);
  }
  if (!controller.signal.aborted) {
    focusHeading();
    window.dispatchEvent(new Event("kadr:page"));
  }
}

/** What every page does with an error it does not handle itself. */
export async function showError(error) {
  if (error instanceof SessionExpired) {
    const next = here();
    const query = next.startsWith("/sign-in") ? "" : `?next=${encodeURIComponent(next)}&expired=1`;
    await navigate(`/sign-in${query}`, { replace: true });
    return;
  }
  if (error instanceof ApiError && error.status === 404) {
    const module = await notFound();
    const main = h("div", { class: "page" });
    outlet.replaceChildren(main);
    await module.render(main, { params: {}, query: new URLSearchParams(), signal: leaving.signal, error });
    return;
  }
  if (error instanceof ApiUnreachable || (error instanceof ApiError && error.status >= 502)) {
    const why = error instanceof ApiUnreachable ? "kadr's API is not answering" : error.message;
    showBanner(`${why}. Check that kadr is running, then try again.`, () => render());
    if (!outlet.querySelector("h1")) {
      setTitle("Unavailable");
      outlet.replaceChildren(
        h("div", { class: "page" }, h("h1", { tabindex: -1 }, "Can't reach kadr"), h("p", {}, why + ".")),
      );
    }
    return;
  }
  console.error(error);
  showBanner(`Something went wrong: ${error.message}`, () => render());
}

function focusHeading() {
  const heading = outlet.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function isAppLink(anchor, event) {
  if (!anchor || anchor.target || anchor.hasAttribute("download") || event.defaultPrevented) return false;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin) return false;
  if (url.pathname === location.pathname && url.hash) return false; // "skip to content" and the like
  return !/^\/(v1|static|docs|redoc|openapi\.json|health|metrics)(\/|$)/.test(url.pathname);
}

/** Start routing inside `element`: links of the app change pages without a reload. */
export function start(element) {
  outlet = element;
  document.addEventListener("click", (event) => {
    const anchor = event.target.closest("a[href]");
    if (!isAppLink(anchor, event)) return;
    event.preventDefault();
    navigate(anchor.getAttribute("href"));
  });
  window.addEventListener("popstate", () => render());
  return render();
}
