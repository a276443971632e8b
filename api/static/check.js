// "Check my working": a pupil's lines (typed, drawn or photographed) -> POST /check; every line shown as a
// formula with an editable box, each step's verdict beside it, the first wrong step marked.
// Uses app.js's helpers ($, t, setMath, apiHeaders, withLang, drawQuad, the drawing pads: redrawPad, ...);
// loaded after it.
"use strict";

Object.assign(TEXT.en, {
  checkTab: "Check my working", type: "Type",
  checkIntro: "Write your working, one step a line — type it, draw it or take a photo — and see where it goes wrong.",
  checkLinesLabel: "Your working (LaTeX), one step a line", checkButton: "Check my working",
  checkChoose: "Choose or take a photo of your working (one step a line)",
  checkCanvasHint: "Write your working here, one step a line",
  checking: "Checking…", checkTwoLines: "Write at least two lines: the step from one to the next is checked.",
  checkAllGood: "Every step holds.", checkUndecided: "Every step that could be checked holds; ? marks a step that could not be decided.",
  checkWrong: "Line {n} does not follow from the line before.", checkLine: "Line {n}",
  checkConfirm: "Is this what you wrote? Correct it in the box.",
  verdict_equivalent: "this step holds", verdict_not_equivalent: "this step is wrong", verdict_unknown: "could not be decided",
});
Object.assign(TEXT.nl, {
  checkTab: "Controleer mijn uitwerking", type: "Typen",
  checkIntro: "Schrijf je uitwerking, één stap per regel — typ, teken of fotografeer hem — en zie waar het misgaat.",
  checkLinesLabel: "Je uitwerking (LaTeX), één stap per regel", checkButton: "Controleer mijn uitwerking",
  checkChoose: "Kies of maak een foto van je uitwerking (één stap per regel)",
  checkCanvasHint: "Schrijf hier je uitwerking, één stap per regel",
  checking: "Controleren…", checkTwoLines: "Schrijf minstens twee regels: de stap van de ene naar de volgende wordt gecontroleerd.",
  checkAllGood: "Elke stap klopt.", checkUndecided: "Elke stap die te controleren was klopt; ? staat bij een stap die niet te beslissen was.",
  checkWrong: "Regel {n} volgt niet uit de regel ervoor.", checkLine: "Regel {n}",
  checkConfirm: "Is dit wat je schreef? Verbeter het in het vakje.",
  verdict_equivalent: "deze stap klopt", verdict_not_equivalent: "deze stap is fout", verdict_unknown: "niet te beslissen",
});

const CHECK_MARKS = { equivalent: "✓", not_equivalent: "✗", unknown: "?" };
let checkSeq = 0;
let checkTimer = null;
let lastCheck = null; // the last answer: its lines are checked again (typed) when the language changes

function showCheckError(message) {
  const el = $("check-error");
  el.textContent = message || "";
  el.hidden = !message;
}

// The photo checked, each line read boxed on it and marked like the step into it
function showCheckPhoto(data) {
  const svg = $("check-overlay");
  svg.replaceChildren();
  if (data && data.source === "photo") {
    const steps = {};
    for (const s of data.steps || []) steps[s.to] = s;
    (data.lines || []).forEach((line, i) => drawQuad(svg, line.box, steps[i] ? steps[i].verdict : "first"));
  }
  svg.toggleAttribute("hidden", !svg.childElementCount || $("check-preview").hidden);
}

function setCheckPreview(file) {
  const preview = $("check-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  if (!file) { preview.removeAttribute("src"); preview.hidden = true; showCheckPhoto(null); return; }
  preview.onerror = () => { preview.hidden = true; showCheckPhoto(null); }; // not a picture the browser shows
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  showCheckPhoto(null);
}

function clearCheck() {
  showCheckPhoto(null);
  $("check-lines").replaceChildren();
  $("check-summary").textContent = "";
  $("check-summary").className = "message";
  showCheckError("");
  lastCheck = null;
}

async function postCheck(body, headers) {
  const seq = ++checkSeq;
  clearTimeout(checkTimer);
  showCheckError("");
  const status = $("check-status");
  status.textContent = t("checking");
  status.classList.add("busy");
  let resp, data;
  try {
    resp = await fetch(withLang("/check"), { method: "POST", body: body, headers: apiHeaders(headers) });
    data = await resp.json();
  } catch (err) {
    console.warn(err);
    if (seq === checkSeq) { status.textContent = ""; status.classList.remove("busy"); showCheckError(t("unreachable")); }
    return;
  }
  if (seq !== checkSeq) return; // a newer check superseded this one
  status.textContent = "";
  status.classList.remove("busy");
  if (!resp.ok) {
    const error = (data && data.error) || {};
    if (!$("check-lines").childElementCount || error.code === "too_few_lines") clearCheck();
    showCheckError(error.code === "too_few_lines" ? t("checkTwoLines") : error.message || "HTTP " + resp.status);
    return;
  }
  showCheck(data);
}

function checkTyped(lines) {
  const kept = lines.map((s) => s.trim()).filter((s) => s);
  if (kept.length < 2) { showCheckError(t("checkTwoLines")); return; }
  return postCheck(JSON.stringify({ lines: kept, lang: $("lang").value }), { "Content-Type": "application/json" });
}

// Each line: its verdict mark (the step into it), the formula, the box to correct it, the explanation beside
function showCheck(data) {
  lastCheck = data;
  showCheckPhoto(data);
  const list = $("check-lines");
  list.replaceChildren();
  const steps = {};
  for (const s of data.steps || []) steps[s.to] = s;
  (data.lines || []).forEach((line, i) => {
    const step = steps[i];
    const item = document.createElement("li");
    item.className = "check-line" + (step ? " " + step.verdict : "") + (i === data.first_wrong_line ? " wrong" : "");
    const mark = document.createElement("span");
    mark.className = "check-mark";
    mark.textContent = step ? CHECK_MARKS[step.verdict] || "?" : "";
    if (step) mark.title = t("verdict_" + step.verdict);
    const body = document.createElement("div");
    body.className = "check-body";
    const math = document.createElement("div");
    math.className = "check-math";
    setMath(math, line.mathml, line.latex_typed || line.latex);
    const edit = document.createElement("input");
    edit.className = "latex check-edit";
    edit.type = "text";
    edit.spellcheck = false;
    edit.value = line.latex_typed || line.latex;
    edit.setAttribute("aria-label", t("checkLine").replace("{n}", String(i + 1)));
    edit.addEventListener("input", () => {
      clearTimeout(checkTimer);
      checkTimer = setTimeout(recheck, RESOLVE_DELAY_MS);
    });
    edit.addEventListener("keydown", (ev) => { if (ev.key === "Enter") recheck(); });
    body.append(math, edit);
    if (line.needs_confirmation) {
      const note = document.createElement("small");
      note.className = "check-confirm";
      note.textContent = t("checkConfirm");
      body.appendChild(note);
    }
    const text = document.createElement("div");
    text.className = "check-explanation";
    text.textContent = step ? step.explanation : "";
    item.append(mark, body, text);
    list.appendChild(item);
  });
  const summary = $("check-summary");
  const wrong = data.first_wrong_line;
  const undecided = (data.steps || []).some((s) => s.verdict === "unknown");
  summary.textContent = wrong !== null && wrong !== undefined
    ? t("checkWrong").replace("{n}", String(wrong + 1))
    : t(undecided ? "checkUndecided" : "checkAllGood");
  summary.className = "message " + (wrong !== null && wrong !== undefined ? "fail" : "ok");
}

// the lines as they stand in the boxes, checked again as typed lines
function recheck() {
  clearTimeout(checkTimer);
  const boxes = Array.from(document.querySelectorAll("#check-lines .check-edit"));
  if (boxes.length) checkTyped(boxes.map((b) => b.value));
}

function setCheckMode(mode) {
  for (const b of document.querySelectorAll(".check-mode")) {
    const active = b.dataset.mode === mode;
    b.classList.toggle("active", active);
    b.setAttribute("aria-pressed", String(active));
    $("check-" + b.dataset.mode).hidden = !active;
  }
  $("check-btn").hidden = mode === "photo"; // a photo is checked as soon as it is chosen
  if (mode === "draw") window.dispatchEvent(new Event("resize"));
}

function setupCheckMode() {
  const canvas = $("check-canvas");
  const ctx = canvas.getContext("2d");
  const marks = [];

  function resize() {
    if (!canvas.getBoundingClientRect().width) return; // hidden
    fitPad(canvas, ctx);
    redraw();
  }

  const redraw = () => redrawPad(canvas, ctx, marks, t("checkCanvasHint"));

  attachPen(canvas, marks, redraw);
  for (const b of document.querySelectorAll(".check-mode")) b.addEventListener("click", () => setCheckMode(b.dataset.mode));
  $("check-clear-btn").addEventListener("click", () => { marks.length = 0; redraw(); });
  $("check-undo-btn").addEventListener("click", () => { marks.pop(); redraw(); });
  $("check-btn").addEventListener("click", () => {
    if (!$("check-draw").hidden) {
      if (!marks.length) { showCheckError(t("checkTwoLines")); return; }
      const body = { strokes: inkOf(marks), lang: $("lang").value, beam: BEAM };
      postCheck(JSON.stringify(body), { "Content-Type": "application/json" });
    } else {
      checkTyped($("check-text").value.split("\n"));
    }
  });
  $("check-file").addEventListener("change", () => {
    const file = $("check-file").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file, file.name || "working");
    form.append("lang", $("lang").value);
    form.append("beam", String(BEAM));
    $("check-file").value = ""; // the same photo chosen again is checked again
    setCheckPreview(file);
    postCheck(form, {});
  });
  $("tab-check").addEventListener("click", resize); // after setupTabs has shown the panel
  $("lang").addEventListener("change", () => {
    redraw();
    if (lastCheck && !$("panel-check").hidden) recheck(); // the explanations in the new language
  });
  window.addEventListener("resize", resize);
  setCheckMode("type");
}

document.addEventListener("DOMContentLoaded", setupCheckMode);
