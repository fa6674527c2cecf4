// The referral campaign builder: show the target fields of the chosen kind, add a milestone row.
(function () {
  const form = document.getElementById("referral-builder");
  if (form) {
    const show = () => {
      const kind = (form.querySelector("input[name=kind]:checked") || {}).value;
      form.querySelectorAll("[data-kind]").forEach((el) => { el.style.display = el.dataset.kind === kind ? "" : "none"; });
    };
    form.querySelectorAll("input[name=kind]").forEach((el) => el.addEventListener("change", show));
    show();
    document.getElementById("add-reward-row").addEventListener("click", () => {
      const rows = document.querySelector("#reward-rows tbody");
      const row = rows.querySelector("tr.reward-row:last-child").cloneNode(true);
      row.querySelectorAll("input").forEach((el) => { el.value = ""; });
      rows.appendChild(row);
      row.querySelector("input").focus();
    });
  }
  // The poster preview: nothing broken when no poster can be drawn (no template, no route).
  const poster = document.getElementById("poster-preview");
  if (poster) {
    const hide = () => { poster.style.display = "none"; document.getElementById("poster-none").hidden = false; };
    poster.addEventListener("error", hide);
    if (poster.complete && poster.naturalWidth === 0) hide();
  }
})();
