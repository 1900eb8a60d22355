/* The review page's keyboard and deny-dialog behaviour (no framework beyond Unfold's Alpine).
   - Tabs follow the WAI-ARIA pattern: Left/Right/Home/End move between them and select.
   - A transition dialog (<details>) closes with Escape or its Cancel button; focus returns to
     the button that opened it, and moves into the dialog when it opens.
   - Deny: the filter box hides codes that do not match; the customer message follows the ticked
     codes' customer wording until the agent edits it. */
(function () {
    "use strict";

    function onTabKey(event) {
        var tabs = Array.prototype.slice.call(event.currentTarget.querySelectorAll('[role="tab"]'));
        var i = tabs.indexOf(document.activeElement);
        if (i < 0) { return; }
        var next = null;
        if (event.key === "ArrowRight") { next = tabs[(i + 1) % tabs.length]; }
        else if (event.key === "ArrowLeft") { next = tabs[(i - 1 + tabs.length) % tabs.length]; }
        else if (event.key === "Home") { next = tabs[0]; }
        else if (event.key === "End") { next = tabs[tabs.length - 1]; }
        if (next) { event.preventDefault(); next.focus(); next.click(); }
    }

    function setupDialogs(root) {
        root.querySelectorAll("details.jc-action").forEach(function (details) {
            var summary = details.querySelector("summary");
            details.addEventListener("toggle", function () {
                if (details.open) {
                    var first = details.querySelector(".jc-popover input:not([type=hidden]), .jc-popover textarea, .jc-popover select, .jc-popover button");
                    if (first) { first.focus(); }
                }
            });
            details.addEventListener("keydown", function (event) {
                if (event.key === "Escape" && details.open) {
                    event.preventDefault();
                    details.open = false;
                    summary.focus();
                }
            });
            details.querySelectorAll("[data-close]").forEach(function (button) {
                button.addEventListener("click", function () { details.open = false; summary.focus(); });
            });
        });
    }

    function setupDeny(root) {
        var deny = root.querySelector("[data-deny]");
        if (!deny) { return; }
        var filter = deny.querySelector("[data-deny-filter]");
        var message = deny.querySelector("[data-deny-message]");
        var edited = false;
        message.addEventListener("input", function () { edited = true; });
        filter.addEventListener("input", function () {
            var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
            deny.querySelectorAll("[data-deny-group]").forEach(function (group) {
                var shown = 0;
                group.querySelectorAll("[data-deny-option]").forEach(function (option) {
                    var text = option.getAttribute("data-search");
                    var match = words.every(function (w) { return text.indexOf(w) >= 0; });
                    option.hidden = !match;
                    if (match) { shown += 1; }
                });
                group.hidden = shown === 0;
            });
        });
        filter.addEventListener("keydown", function (event) {
            if (event.key === "Enter") { event.preventDefault(); }  // Enter filters; it must not send the denial
        });
        deny.querySelectorAll('input[name="codes"]').forEach(function (box) {
            box.addEventListener("change", function () {
                if (edited) { return; }
                var lines = [];
                deny.querySelectorAll('input[name="codes"]:checked').forEach(function (checked) {
                    lines.push("- " + checked.getAttribute("data-wording") + " (Refund Policy, section " + checked.getAttribute("data-section") + ")");
                });
                message.value = lines.join("\n");
            });
        });
    }

    document.addEventListener("DOMContentLoaded", function () {
        var root = document.getElementById("review");
        if (!root) { return; }
        root.querySelectorAll('[role="tablist"]').forEach(function (list) { list.addEventListener("keydown", onTabKey); });
        setupDialogs(root);
        setupDeny(root);
    });
})();
