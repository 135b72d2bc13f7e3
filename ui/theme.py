"""Look and feel of the web chat: the Gradio theme, the CSS, and one small script.

Fonts are the system's (the app runs offline: no web fonts). The script makes a click on an
answer's [n] scroll the matching source card into view and flash it; without it the links still
jump there. Left out: dark-mode specific colours beyond what the theme's variables give.
"""

from __future__ import annotations

import gradio as gr


def theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue="indigo", neutral_hue="slate", radius_size="md",
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


CSS = """
.gradio-container { max-width: 1320px !important; margin: 0 auto !important; }
.app-header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 10px 16px;
  padding: 14px 18px; border-radius: 14px; color: #fff;
  background: linear-gradient(120deg, #3730a3 0%, #4f46e5 55%, #6366f1 100%); }
.app-header, .app-header * { color: #fff !important; }
.app-header .brand { display: flex; align-items: center; gap: 12px; }
.app-header .logo { font-size: 30px; line-height: 1; background: rgba(255,255,255,.16); border-radius: 10px;
  width: 44px; height: 44px; display: flex; align-items: center; justify-content: center; }
.app-title { font-size: 1.35rem; font-weight: 700; letter-spacing: .01em; }
.app-sub { font-size: .88rem; opacity: .9; }
.app-header .stats { display: flex; flex-wrap: wrap; gap: 6px; }
.app-header .pill { background: rgba(255,255,255,.16); border: 1px solid rgba(255,255,255,.25); border-radius: 999px;
  padding: 3px 10px; font-size: .8rem; white-space: nowrap; }

#chat-row { gap: 16px; align-items: stretch; }
#chatbot a[href^="#src-"] { display: inline-block; min-width: 1.45em; padding: 0 .35em; margin: 0 1px;
  font-size: .72em; font-weight: 700; line-height: 1.5; vertical-align: super; text-align: center;
  text-decoration: none; border-radius: 999px; color: #fff !important; background: var(--color-accent, #4f46e5); }
#chatbot a[href^="#src-"]:hover { filter: brightness(1.15); }
#question textarea { font-size: 1rem; }
#ask-btn { min-width: 90px; }

#sources .src-panel { max-height: 600px; overflow-y: auto; padding-right: 2px; }
#chatbot .example { border: 1px solid var(--border-color-accent, #c7d2fe) !important; border-radius: 12px !important;
  background: var(--background-fill-secondary) !important; text-align: left; }
#chatbot .example:hover { border-color: var(--color-accent, #4f46e5) !important; }
#chatbot .example-text { color: var(--body-text-color); font-size: .92rem; }
.src-panel { display: flex; flex-direction: column; gap: 10px; }
.src-panel h3.src-title-bar { margin: 0; font-size: 1rem; font-weight: 700; }
.src-head { font-size: .92rem; padding: 8px 12px; border-radius: 10px; background: var(--background-fill-secondary); }
.src-head.abstained { background: #fff7ed; color: #9a3412; border: 1px solid #fed7aa; }
.src-hint { color: var(--body-text-color-subdued); font-size: .95rem; line-height: 1.55; padding: 18px;
  border: 1px dashed var(--border-color-primary); border-radius: 12px; }
.cite-demo { display: inline-block; padding: 0 .4em; border-radius: 999px; background: var(--color-accent, #4f46e5);
  color: #fff; font-size: .75em; font-weight: 700; vertical-align: super; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 10px 12px;
  background: var(--background-fill-primary); scroll-margin-top: 12px; transition: box-shadow .3s, border-color .3s; }
.src-card:target, .src-card.flash { border-color: var(--color-accent, #4f46e5); box-shadow: 0 0 0 3px rgba(79,70,229,.25); }
.src-card .src-top { display: flex; align-items: flex-start; gap: 8px; }
.src-num { flex: none; display: inline-flex; align-items: center; justify-content: center; width: 1.6em; height: 1.6em;
  border-radius: 999px; background: var(--color-accent, #4f46e5); color: #fff; font-weight: 700; font-size: .8rem; }
.src-title { font-weight: 600; font-size: .93rem; line-height: 1.35; overflow-wrap: anywhere; }
.src-meta { display: flex; flex-wrap: wrap; gap: 4px 12px; margin: 4px 0 6px 2.1em; font-size: .76rem;
  color: var(--body-text-color-subdued); }
.src-file { font-family: var(--font-mono); overflow-wrap: anywhere; }
.prose .src-passage, .src-passage { margin: 0; padding: 8px 10px; border-left: 3px solid var(--border-color-accent, #c7d2fe);
  background: var(--background-fill-secondary); border-radius: 0 8px 8px 0; font-size: .88rem; line-height: 1.55;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.src-passage mark { background: #fde68a; color: #1f2937; padding: 1px 2px; border-radius: 3px; }
.src-foot { font-size: .75rem; color: var(--body-text-color-subdued); overflow-wrap: anywhere; }

.doc-table-wrap { overflow-x: auto; border: 1px solid var(--border-color-primary); border-radius: 12px; }
.prose table.doc-table, table.doc-table { width: 100%; border-collapse: collapse; font-size: .88rem; margin: 0;
  border: none !important; }
.doc-table th { text-align: left; font-weight: 600; padding: 8px 10px; background: var(--background-fill-secondary);
  border-bottom: 1px solid var(--border-color-primary); white-space: nowrap; }
.doc-table td { padding: 8px 10px; border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
.prose .doc-table th, .prose .doc-table td { border-left: none !important; border-right: none !important;
  border-top: none !important; }
.doc-table tr:last-child td { border-bottom: none; }
.eval-metrics caption { caption-side: top; text-align: left; padding: 8px 10px; font-size: .85rem; }
.eval-metrics td.group { color: var(--body-text-color-subdued); white-space: nowrap; }
.doc-table .num { text-align: right; white-space: nowrap; }
.doc-table .doc-title { font-weight: 500; overflow-wrap: anywhere; min-width: 12em; }
.doc-table .doc-file { min-width: 11em; }
.doc-table .doc-file code { font-size: .8rem; word-break: break-all; }
.doc-table .doc-when { white-space: nowrap; color: var(--body-text-color-subdued); }
#delete-row { align-items: flex-end; }
footer .record.hidden + .divider { display: none; }  /* a separator after nothing, with only the API link left */
#upload-report .ok { color: #15803d; }
#upload-report .bad { color: #b91c1c; }
#collection-bar, #chat-bar, #collection-create-row, #collection-confirm-row, #chat-confirm-row {
  align-items: flex-end; gap: 8px; }
#collection-bar > button, #chat-bar > button, #collection-create-row > button, #collection-confirm-row > button,
#chat-confirm-row > button { align-self: flex-end; margin-bottom: 2px; }
#collection-confirm-row, #chat-confirm-row { padding: 8px 10px; border: 1px solid #fecaca; border-radius: 10px;
  background: #fef2f2; align-items: center; }

.src-card { cursor: pointer; }
.src-card:hover { border-color: var(--border-color-accent, #c7d2fe); }
.src-card:focus-visible { outline: 2px solid var(--color-accent, #4f46e5); outline-offset: 2px; }
.src-open { margin-left: auto; flex: none; font-size: .75rem; font-weight: 600; color: var(--color-accent, #4f46e5);
  white-space: nowrap; }
.src-page { font-weight: 600; color: var(--body-text-color); }
.src-path, .viewer-path { font-size: .78rem; color: var(--body-text-color-subdued); margin: 0 0 6px 2.1em;
  overflow-wrap: anywhere; }
.ocr-badge { display: inline-block; padding: 0 6px; border-radius: 999px; font-size: .72rem; font-weight: 600;
  background: #fef3c7; color: #92400e; border: 1px solid #fcd34d; }

#viewer.viewer-modal { position: fixed !important; z-index: 1200; top: 3vh; left: 0; right: 0; margin: 0 auto;
  width: min(1000px, calc(100vw - 16px)); max-height: 94vh; overflow-y: auto; overflow-x: hidden;
  padding: 10px 14px 14px; border-radius: 14px; background: var(--background-fill-primary);
  border: 1px solid var(--border-color-primary);
  box-shadow: 0 0 0 100vmax rgba(15, 23, 42, .5), 0 24px 60px rgba(0, 0, 0, .35); }
#viewer-bar { justify-content: flex-end; gap: 8px; flex-wrap: wrap; }
#viewer-bar > button { flex: none !important; }
.viewer { display: flex; flex-direction: column; gap: 10px; }
.viewer-head { display: flex; align-items: flex-start; gap: 10px; }
.viewer-heading { min-width: 0; }
.viewer-title { font-weight: 700; font-size: 1.02rem; line-height: 1.35; overflow-wrap: anywhere; }
.viewer-meta { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; font-size: .8rem;
  color: var(--body-text-color-subdued); }
.viewer-path { margin: 2px 0 0; }
.viewer-page-no { font-weight: 700; color: var(--body-text-color); }
.viewer-note { font-size: .85rem; padding: 8px 10px; border-radius: 8px; background: #fff7ed; color: #9a3412;
  border: 1px solid #fed7aa; }
.viewer-page { position: relative; width: 100%; max-width: 760px; margin: 0 auto; }
.prose .viewer-page img, .viewer-page img { display: block; width: 100%; height: auto; max-width: 100%; margin: 0;
  border: 1px solid var(--border-color-primary); border-radius: 4px; background: #fff; }
.viewer-hl { position: absolute; background: rgba(250, 204, 21, .35); outline: 2px solid rgba(217, 119, 6, .85);
  border-radius: 2px; pointer-events: none; }
.prose .viewer-quote, .viewer-quote { margin: 0; padding: 8px 10px; border-left: 3px solid #f59e0b;
  background: var(--background-fill-secondary); font-size: .88rem; border-radius: 0 8px 8px 0; }
.viewer-text { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .92rem; line-height: 1.6;
  max-height: 66vh; overflow-y: auto; padding: 10px 12px; border-radius: 8px; background: var(--background-fill-secondary); }
.viewer-text mark { background: #fde68a; color: #1f2937; padding: 1px 2px; border-radius: 3px;
  box-shadow: 0 0 0 2px #f59e0b; }

@media (max-width: 720px) {
  .gradio-container { padding: 6px !important; }
  .app-header { padding: 10px 12px; }
  .app-sub { display: none; }
  #sources .src-panel { max-height: none; }
  .doc-list thead { display: none; }
  .prose .doc-list, .doc-list, .doc-list tbody, .doc-list tr { display: block; width: 100%; border: none !important; }
  .prose .doc-list tr, .doc-list tr { padding: 8px 10px; border-bottom: 1px solid var(--border-color-primary) !important; }
  .prose .doc-list tr:last-child, .doc-list tr:last-child { border-bottom: none !important; }
  .prose .doc-list td, .doc-list td { display: inline-block; padding: 0 12px 0 0; border: none !important;
    min-width: 0 !important; text-align: left; font-size: .82rem; }
  .doc-list td.doc-title, .doc-list td.doc-file { display: block; font-size: .88rem; }
  .doc-list td[data-label]::before { content: attr(data-label) " "; color: var(--body-text-color-subdued); }
  #collection-bar, #chat-bar, #collection-create-row { flex-wrap: wrap; }
  #collection-bar > .form, #chat-bar > .form, #collection-create-row > .form { flex: 1 1 100% !important; }
  #collection-bar > button, #collection-create-row > button { flex: 1 1 40% !important; width: auto !important; }
  #collection-confirm-row, #chat-confirm-row { flex-wrap: wrap; }
  #collection-confirm-row > :first-child, #chat-confirm-row > :first-child { flex: 1 1 100% !important; }
  #collection-confirm-row > button, #chat-confirm-row > button { flex: 1 1 40% !important; width: auto !important; }
  #viewer.viewer-modal { top: 8px; max-height: calc(100vh - 16px); padding: 8px; }
  .viewer-text { max-height: 58vh; }
}
"""

# A click on an answer's [n] asks the server to open that citation (SOURCES_JS below: that answer's cards in the
# panel, the passage in the viewer) and flashes its card once it is shown; Escape closes the viewer.
HEAD = """
<script>
document.addEventListener("click", function (event) {
  const link = event.target.closest && event.target.closest('a[href^="#src-"]');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const id = link.getAttribute("href").slice(1);
  const parts = id.split("-");
  if (window.__ragOpenCitation) window.__ragOpenCitation(Number(parts[1]), Number(parts[2]));
  let tries = 0;
  (function reveal() {
    const card = document.getElementById(id);
    if (!card) { if (++tries < 200) setTimeout(reveal, 50); return; }
    card.scrollIntoView({behavior: "smooth", block: "nearest"});
    card.classList.add("flash");
    setTimeout(function () { card.classList.remove("flash"); }, 1600);
  })();
}, true);
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  const close = document.querySelector("#viewer-close");
  if (close && close.offsetParent !== null) close.click();
});
</script>
"""

# js_on_load of the sources panel (a gr.HTML): a click (or Enter) on a source card, and the [n] links through
# window.__ragOpenCitation, trigger the panel's "click" event with {turn, n}; selecting text in a card does not.
SOURCES_JS = """
window.__ragOpenCitation = (turn, n) => trigger('click', {turn: turn, n: n});
const open = (event) => {
  const card = event.target.closest && event.target.closest('.src-card');
  if (!card || !element.contains(card)) return;
  if (event.type === 'keydown' && event.key !== 'Enter' && event.key !== ' ') return;
  if (event.type === 'click' && String(window.getSelection ? window.getSelection() : '').length) return;
  event.preventDefault();
  trigger('click', {turn: Number(card.dataset.turn), n: Number(card.dataset.n)});
};
element.addEventListener('click', open);
element.addEventListener('keydown', open);
"""
