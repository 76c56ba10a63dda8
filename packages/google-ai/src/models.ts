/**
 * The Gemini model the director and the judge use unless configured otherwise.
 *
 * Gemini 3.8 Flash: generally available on Vertex AI since 2026-09-02, retirement no earlier than
 * 2027-09-02 (Google's "Latest available models" page for Vertex AI). gemini-2.5-flash, the
 * earlier default, was retired on 2026-10-20 and Vertex answers it 404 NOT_FOUND. A Flash model
 * because it reads frames and writes structured shot plans within our timeouts at a fraction of
 * the Pro price. Kept free of SDK imports so env defaults can read it cheaply.
 */
export const DEFAULT_GEMINI_MODEL = 'gemini-3.8-flash';
