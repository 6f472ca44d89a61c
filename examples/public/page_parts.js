/**
 * What the live pages share (pubsub.html, mqtt.html): the log of what was sent and received,
 * and the list of subscriptions, each with a button that ends it.
 */

/** Adds a line to the log: `kind` is "sent", "received" or anything else for an error. */
export function logLine(log, kind, text) {
  const item = document.createElement("li");
  item.className = kind;
  const arrow = kind === "sent" ? "→" : kind === "received" ? "←" : "!";
  item.textContent = `${arrow} ${text}`;
  log.append(item);
}

/**
 * Lists a subscription as `name`, marked `data-{key}` for the tests and for lookups, with an
 * "unsubscribe" button that calls `unsubscribe` and removes it.
 */
export function listSubscription(list, name, key, unsubscribe) {
  const item = document.createElement("li");
  item.textContent = `${name} `;
  item.dataset[key] = name;
  const remove = document.createElement("button");
  remove.textContent = "unsubscribe";
  remove.addEventListener("click", () => {
    unsubscribe();
    item.remove();
  });
  item.append(remove);
  list.append(item);
}
