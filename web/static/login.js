// The login page: name and password → a session cookie, then on to the role's own screen.
// An admin account also needs its authenticator app's code: the server asks (totp_required)
// and the page shows the code field.

import { api, describeError } from "/static/common/api.js";
import { applyWords, loadWords, otherLanguage, setLanguage, t } from "/static/common/i18n.js";

const form = document.getElementById("login-form");
const error = document.getElementById("error");
const notice = document.getElementById("notice");
const submit = document.getElementById("submit");
const languageButton = document.getElementById("language");
const totpField = document.getElementById("totp-field");
const SECOND_FACTOR = ["totp_required", "wrong_totp"];
const params = new URLSearchParams(location.search);

function nextPage(home) {
  const next = params.get("next");
  // Only a path of this server: never an open redirect elsewhere.
  return next && next.startsWith("/") && !next.startsWith("//") ? next : home || "/console/";
}

function showLanguage() {
  languageButton.textContent = otherLanguage() === "en" ? "English" : "中文";
  document.title = `${t("login.title")} · ${t("app.name")}`;
}

async function main() {
  await loadWords();
  applyWords();
  showLanguage();
  const reason = params.get("reason");
  if (reason === "logged_out" || reason === "expired") {
    notice.textContent = t(`login.${reason}`);
    notice.hidden = false;
  }
  try {
    const session = await api("GET", "/api/v1/session");
    location.replace(nextPage(session.home));
    return;
  } catch {
    // not logged in: stay
  }
}

languageButton.addEventListener("click", async () => {
  await setLanguage(otherLanguage());
  showLanguage();
});

form.addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  error.hidden = true;
  submit.disabled = true;
  submit.textContent = t("login.working");
  try {
    const body = { name: form.username.value.trim(), password: form.password.value };
    if (!totpField.hidden && form.totp.value.trim()) body.totp = form.totp.value.trim();
    const session = await api("POST", "/api/v1/session", body);
    location.replace(nextPage(session.home));
  } catch (err) {
    error.textContent = describeError(err);
    error.hidden = false;
    if (SECOND_FACTOR.includes(err.code)) {
      totpField.hidden = false;
      form.totp.select();
    } else {
      form.password.select();
    }
  } finally {
    submit.disabled = false;
    submit.textContent = t("login.submit");
  }
});

main();
