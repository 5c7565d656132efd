// The dispatcher console: live queue, map and incident detail (built up in the next commits).
import { loadSession, logout } from "/static/common/api.js";
import { applyWords, loadWords, otherLanguage, setLanguage, t } from "/static/common/i18n.js";

async function main() {
  const session = await loadSession({ roles: ["dispatcher", "admin"] });
  await loadWords(session.settings.language);
  applyWords();
  document.getElementById("who").textContent = session.user.name;
  document.getElementById("logout").addEventListener("click", logout);
  const language = document.getElementById("language");
  language.textContent = otherLanguage() === "en" ? "English" : "中文";
  language.addEventListener("click", () => setLanguage(otherLanguage()));
  document.getElementById("link").textContent = t("common.online");
}

main();
