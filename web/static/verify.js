// Keyboard-only work on the verification pages: links marked data-hotkey follow their key
// (Enter, Escape, g) when the focus is not in a text field; Escape and «g» (never part of an
// answer: answers are digits, «*» or a choice's digit) also from the answer field. In the
// group view the arrow keys move between tiles and Space toggles a tile.
const ALWAYS = new Set(["Escape", "g", "п"]);
document.addEventListener("keydown", (event) => {
  const typing = event.target instanceof HTMLInputElement && event.target.type !== "checkbox";
  if (ALWAYS.has(event.key) || !typing) {
    const key = event.key === "п" ? "g" : event.key;  // the same key on a Russian layout
    const link = document.querySelector(`a[data-hotkey="${key}"]`);
    if (link) { event.preventDefault(); window.location.assign(link.href); return; }
  }
  const boxes = Array.from(document.querySelectorAll(".grid input[type=checkbox]"));
  if (!boxes.length || typing) return;
  const at = Math.max(boxes.indexOf(document.activeElement), 0);
  if (event.key === "ArrowRight" || event.key === "ArrowDown") {
    event.preventDefault(); boxes[Math.min(at + 1, boxes.length - 1)].focus();
  } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
    event.preventDefault(); boxes[Math.max(at - 1, 0)].focus();
  } else if (event.key === "Enter") {
    event.preventDefault(); document.querySelector("form.group").requestSubmit();
  }
});
document.addEventListener("DOMContentLoaded", () => {
  const first = document.querySelector(".grid input[type=checkbox]");
  if (first && !document.querySelector("#answer:focus")) first.focus();
});
