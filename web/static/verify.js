// Keyboard-only work on the verification pages: links marked data-hotkey follow their key
// (Enter, Escape, g) when the focus is not in a text field, Escape also from the answer field;
// in the group view the arrow keys move between tiles and Space toggles a tile.
document.addEventListener("keydown", (event) => {
  const typing = event.target instanceof HTMLInputElement && event.target.type !== "checkbox";
  if (event.key === "Escape" || !typing) {
    const link = document.querySelector(`a[data-hotkey="${event.key}"]`);
    if (link) { event.preventDefault(); window.location.assign(link.href); return; }
  }
  const boxes = Array.from(document.querySelectorAll(".grid input[type=checkbox]"));
  if (!boxes.length || typing) return;
  const at = boxes.indexOf(document.activeElement);
  if (event.key === "ArrowRight" || event.key === "ArrowDown") {
    event.preventDefault(); boxes[Math.min(at + 1, boxes.length - 1)].focus();
  } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
    event.preventDefault(); boxes[Math.max(at - 1, 0)].focus();
  } else if (event.key === "Enter") {
    event.preventDefault(); event.target.closest("form").requestSubmit();
  }
});
window.addEventListener("load", () => {
  const first = document.querySelector(".grid input[type=checkbox]");
  if (first && !document.querySelector("#answer:focus")) first.focus();
});
