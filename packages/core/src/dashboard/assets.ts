/**
 * The dashboard's stylesheet and script: real files beside this one (`assets/app.css`, `assets/app.js`), read
 * once on first use. The build replaces this module with one that holds their text (tsup.config.ts), so a
 * bundle of the package (the weather bin) carries them too.
 */
import { readFileSync } from "node:fs";

/** The files in `assets/`. */
export type AssetName = "app.css" | "app.js";

const read = new Map<AssetName, string>();

/** The text of the asset `name`. */
export function assetText(name: AssetName): string {
  let text = read.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`./assets/${name}`, import.meta.url), "utf8");
    read.set(name, text);
  }
  return text;
}
