// A dialog asking for one required text (an instruction, a reason to decline): it says what is
// missing, keeps the focus until sent or closed, and shows the server's refusal in place.

import { describeError } from "/static/common/api.js";
import { t } from "/static/common/i18n.js";
import { h } from "/static/common/format.js";

/**
 * dialog: a <dialog>; name: the field's id suffix; title, label: its words; missing: what to say
 * when it is left empty; send(text): resolves once the server took it (the dialog then closes).
 */
export function askText(dialog, { name, title, label, missing, rows = 3, send }) {
  const id = `field-${name}`;
  const text = h("textarea", { id, rows: String(rows), maxlength: "2000", required: true });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const form = h(
    "form",
    { method: "dialog", class: "action-form", novalidate: true },
    h("h2", {}, title),
    h("div", { class: "field" }, h("label", { for: id }, label), text),
    error,
    h(
      "div",
      { class: "dialog-buttons" },
      h("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, t("common.cancel")),
      h("button", { type: "submit", class: "primary" }, t("dialog.submit")),
    ),
  );
  text.addEventListener("input", () => (error.hidden = true));
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const words = text.value.trim();
    if (!words) {
      error.textContent = missing;
      error.hidden = false;
      return;
    }
    try {
      await send(words);
      dialog.close();
    } catch (err) {
      error.textContent = describeError(err);
      error.hidden = false;
    }
  });
  dialog.replaceChildren(form);
  dialog.setAttribute("aria-label", title);
  dialog.showModal();
  text.focus();
}
