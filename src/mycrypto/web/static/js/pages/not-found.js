// Unknown address, or an admin page for a non-admin.
import { h } from "../dom.js";
import { pageTitle } from "../ui.js";

export function render({ main, spec }) {
  if (spec && spec.forbidden) {
    main.append(pageTitle("Administrators only"),
      h("p", {}, "This page is for exchange operators. "), h("p", {}, h("a", { href: "/app/markets" }, "Go to the markets")));
    return;
  }
  main.append(pageTitle("Page not found"),
    h("p", {}, "There is nothing at this address."), h("p", {}, h("a", { href: "/app/markets" }, "Go to the markets")));
}
