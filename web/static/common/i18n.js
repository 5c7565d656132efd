// The screens' words: one table per language from the server (web/i18n/), zh-CN by default.
// Every state, tier, trigger, event type and error code is named through it.

const STORAGE_KEY = "dispatch.language";
const LANGUAGES = ["zh-CN", "en"];
let words = {};
export let language = "zh-CN";

/** Load the words of the user's language (its choice, else the server's default). */
export async function loadWords(serverDefault = "zh-CN") {
  const chosen = localStorage.getItem(STORAGE_KEY);
  language = LANGUAGES.includes(chosen) ? chosen : LANGUAGES.includes(serverDefault) ? serverDefault : "zh-CN";
  words = await fetchWords(language);
  document.documentElement.lang = language;
  return language;
}

async function fetchWords(lang) {
  const response = await fetch(`/ui/i18n/${lang}.json`, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`words ${lang}: HTTP ${response.status}`);
  return response.json();
}

/** The words for `key`, with {name} placeholders filled; the key itself when unknown. */
export function t(key, vars = {}) {
  const text = words[key];
  if (text === undefined) return vars.fallback ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] !== undefined ? String(vars[name]) : `{${name}}`));
}

/** Whether the table has words for `key`. */
export function has(key) {
  return words[key] !== undefined;
}

/** Fill every [data-i18n] element (and its title/placeholder/aria-label variants) under root. */
export function applyWords(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

/** Switch language: the words are reloaded and `languagechange` is dispatched on window. */
export async function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) return;
  localStorage.setItem(STORAGE_KEY, lang);
  language = lang;
  words = await fetchWords(lang);
  document.documentElement.lang = lang;
  applyWords();
  window.dispatchEvent(new CustomEvent("languagechange", { detail: lang }));
}

export function otherLanguage() {
  return language === "zh-CN" ? "en" : "zh-CN";
}
