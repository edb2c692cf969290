// kadr's web app: the pages, the header, and the start. Every page is a module in pages/ that
// speaks to the public /v1 API only (api.js). The server (kadr/web/endpoints.py PAGES) answers
// each of these paths with this app, so a new page is declared here and there.

import { api, currentUser, onSessionChange, restoreSession, signOut } from "./api.js";
import { fallback, navigate, route, showError, start } from "./router.js";
import { h, useTimeZone } from "./ui.js";

route("/", () => import("./pages/home.js"), { public: true });
route("/sign-in", () => import("./pages/sign-in.js"), { signedOut: true });
route("/sign-up", () => import("./pages/sign-up.js"), { signedOut: true });
route("/profile", () => import("./pages/profile.js"));
route("/api-keys", () => import("./pages/api-keys.js"));
route("/videos", () => import("./pages/videos.js"));
route("/videos/:id", () => import("./pages/video.js"));
route("/videos/:id/runs/new", () => import("./pages/new-run.js"));
route("/runs/:id", () => import("./pages/run.js"));
route("/runs/:id/review", () => import("./pages/review.js"));
route("/scenarios", () => import("./pages/scenarios.js"));
route("/scenarios/new", () => import("./pages/scenario.js"));
route("/scenarios/:id", () => import("./pages/scenario.js"));
route("/shared/scenarios/:token", () => import("./pages/shared-scenario.js"), { public: true });
route("/channels", () => import("./pages/channels.js"));
route("/publications", () => import("./pages/publications.js"));
route("/inbox", () => import("./pages/inbox.js"));
route("/inbox/settings", () => import("./pages/notification-settings.js"));
route("/admin", () => import("./pages/admin.js"));
fallback(() => import("./pages/not-found.js"));

function link(href, text) {
  const current = location.pathname === href || location.pathname.startsWith(`${href}/`);
  return h("li", {}, h("a", { href, "aria-current": current ? "page" : null }, text));
}

/** The inbox link with the number of unread notifications beside it (none: no number). */
const unread = h("span", { class: "count", hidden: true });

async function countUnread() {
  if (!currentUser()) return;
  try {
    const page = await api("/v1/notifications?unread=true&limit=1");
    unread.hidden = page.total === 0;
    unread.replaceChildren(String(page.total), h("span", { class: "visually-hidden" }, " unread"));
  } catch {
    unread.hidden = true; // the page itself says what is wrong with the API
  }
}

/** The header's links: what a signed-in user can open, or how to get in. */
function drawNav() {
  const nav = document.getElementById("nav");
  const user = currentUser();
  useTimeZone(user?.timezone);
  if (!user) {
    nav.replaceChildren(link("/sign-in", "Sign in"), link("/sign-up", "Sign up"));
    return;
  }
  const leave = async () => {
    try {
      await signOut();
    } catch (error) {
      await showError(error);
    }
    await navigate("/sign-in?signed-out=1");
  };
  const inbox = link("/inbox", "Inbox");
  inbox.firstChild.append(" ", unread);
  nav.replaceChildren(
    link("/videos", "Videos"),
    link("/scenarios", "Scenarios"),
    link("/channels", "Channels"),
    link("/publications", "Publications"),
    inbox,
    link("/api-keys", "API keys"),
    ...(user.is_admin ? [link("/admin", "Admin")] : []),
    link("/profile", user.display_name || "Profile"),
    h("li", {}, h("button", { type: "button", class: "link-button", onclick: leave }, "Sign out")),
  );
}

onSessionChange(drawNav);
window.addEventListener("kadr:page", () => {
  drawNav(); // the current page's link is marked
  countUnread();
});
window.addEventListener("kadr:unread", countUnread); // the inbox marked something read

async function boot() {
  try {
    await restoreSession();
  } catch {
    // The API is down: the page's own request says so, with a way to try again.
  }
  drawNav();
  await start(document.getElementById("main"));
}

boot();
