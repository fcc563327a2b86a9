/**
 * Whether a name is written in one script, as Unicode's "highly restrictive" level (UTS #39, 5.2)
 * defines it: every character's Script_Extensions share a script, where Common and Inherited
 * characters (digits, `_`, `.`, `-`, combining marks) fit any, and Han may mix with Hiragana and
 * Katakana (Japanese), Hangul (Korean) or Bopomofo (Chinese). `аdmin` with a Cyrillic `а` mixes
 * Cyrillic and Latin and is refused; `админ`, `δοκιμή` and `山田たろう` are single-script.
 *
 * The data is the JavaScript engine's own Unicode tables, read through `\p{Script_Extensions=...}`;
 * only the list of script names lives here. A name the engine does not know is skipped, and its
 * letters then count as one unknown script of their own.
 */

// Unicode 16 script names (property value aliases, long form).
const SCRIPT_NAMES = `Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali
Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham Cherokee
Chorasmian Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan
Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Garay Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi
Gurmukhi Gurung_Khema Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inscriptional_Pahlavi
Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki
Khudawadi Kirat_Rai Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic
Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi
Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham
Ol_Chiki Ol_Onal Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian
Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang
Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Sunuwar
Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan
Tifinagh Tirhuta Todhri Toto Tulu_Tigalari Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square`.split(/\s+/);

/** Writing systems that legitimately combine scripts (UTS #39 "augmented script sets"). */
const AUGMENTED: Record<string, string[]> = {
  Han: ['Jpan', 'Kore', 'Hanb'],
  Hiragana: ['Jpan'],
  Katakana: ['Jpan'],
  Hangul: ['Kore'],
  Bopomofo: ['Hanb'],
};

const SCRIPTS = SCRIPT_NAMES.flatMap((name) => {
  try {
    return [{ name, pattern: new RegExp(`^\\p{Script_Extensions=${name}}$`, 'u') }];
  } catch {
    return []; // an engine with older Unicode data
  }
});

const ANY_SCRIPT = /^[\p{Script=Common}\p{Script=Inherited}]$/u;
const ASCII = /^\p{ASCII}*$/u;

/** The scripts a character may belong to, augmented; undefined when it fits any script. */
function scriptsOf(char: string): Set<string> | undefined {
  if (ANY_SCRIPT.test(char)) {
    // Common characters with Script_Extensions (e.g. the Japanese prolonged sound mark) still narrow it.
    const narrowed = SCRIPTS.filter((s) => s.pattern.test(char));
    if (narrowed.length === 0 || narrowed.length === SCRIPTS.length) return undefined;
    return augment(narrowed.map((s) => s.name));
  }
  const names = SCRIPTS.filter((s) => s.pattern.test(char)).map((s) => s.name);
  return augment(names.length > 0 ? names : ['Unknown']);
}

function augment(names: string[]): Set<string> {
  return new Set(names.flatMap((name) => [name, ...(AUGMENTED[name] ?? [])]));
}

/** Whether every character of `value` can be read as one script (see above). */
export function isSingleScript(value: string): boolean {
  if (ASCII.test(value)) return true;
  let common: Set<string> | undefined;
  for (const char of value) {
    const scripts = scriptsOf(char);
    if (!scripts) continue;
    common = common ? new Set([...common].filter((s) => scripts.has(s))) : scripts;
    if (common.size === 0) return false;
  }
  return true;
}
