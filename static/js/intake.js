// Manual intake: the invoice search box (select2) draws its own combobox and text box; give both the field's
// name for screen readers. A file, not an inline script: the Content-Security-Policy allows no
// inline scripts (docs/security.md).
window.addEventListener("load", function () {
    document.querySelectorAll(".select2-selection, .select2-selection__rendered").forEach(function (box) {
        box.setAttribute("aria-label", "Invoice");
    });
});
