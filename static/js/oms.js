// OMS page glue, loaded after htmx and Bootstrap on every page.
(function () {
  "use strict";

  // Django rejects unsafe requests without the CSRF token; htmx does not send it by itself.
  // The layouts put it in <meta name="csrf-token">; the cookie is the fallback for pages without.
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) {
      return meta.content;
    }
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") {
      event.detail.headers["X-CSRFToken"] = csrfToken();
    }
  });

  // htmx leaves the page untouched when a request fails; say so instead of doing nothing.
  function showError(text) {
    const area = document.getElementById("oms-messages");
    if (!area) {
      return;
    }
    const alert = document.createElement("div");
    alert.className = "alert alert-danger alert-dismissible fade show";
    alert.setAttribute("role", "alert");
    const icon = document.createElement("i");
    icon.className = "bi bi-exclamation-octagon";
    icon.setAttribute("aria-hidden", "true");
    const message = document.createElement("div");
    message.className = "oms-message-text";
    message.textContent = text;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Dismiss");
    alert.append(icon, message, close);
    area.replaceChildren(alert);
  }

  document.addEventListener("htmx:responseError", function (event) {
    const status = event.detail.xhr.status;
    showError(
      status === 403
        ? "You do not have permission to do that."
        : "That did not work (error " + status + "). Reload the page and try again.",
    );
  });
  document.addEventListener("htmx:sendError", function () {
    showError("The server could not be reached. Check your connection and try again.");
  });

  // "/" focuses the global search, as in most tools people already use.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const target = event.target;
    if (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) {
      return;
    }
    const search = document.getElementById("oms-search");
    if (search) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });
})();
