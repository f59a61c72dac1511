import type { ConnectLocale } from '../../connect/connect-session.schemas.ts';
import { CONNECT_LOCALES } from '../../connect/connect-session.schemas.ts';

/** Every word the hosted pages say, in English and German. `{x}` is filled in by `t`. */
const en = {
  htmlTitle: 'Connect your bank',
  poweredBy: 'Connections are secured by the connections service.',
  cancel: 'Cancel',
  continue: 'Continue',
  // consent
  consentTitle: '{app} wants to connect to your bank',
  consentIntro: 'To do this, {app} asks for your consent to receive the following from your bank:',
  consentDuration: 'Your consent lasts {days} days.',
  consentRefresh: 'While it lasts, {app} receives fresh data about every {interval}.',
  consentWithdraw: 'You can withdraw your consent at any time, in {app} or at your bank. {app} then receives nothing more.',
  dataset_BANK_ACCOUNT: 'Your accounts: names, types and numbers',
  dataset_BANK_BALANCE: 'Your account balances',
  dataset_BANK_TRANSACTION: 'Your transactions',
  dataset_USER_INFO: 'Your name and contact details held by the bank',
  everything: 'Your accounts, balances, transactions and the contact details held by the bank',
  hours: '{n} hours',
  oneHour: 'hour',
  days: '{n} days',
  oneDay: 'day',
  // bank
  bankTitle: 'Choose your bank',
  searchLabel: 'Search banks',
  searchButton: 'Search',
  noBanks: 'No bank matches “{q}”.',
  banksFound: 'Banks',
  // sign-in
  signInTitle: 'Sign in to {bank}',
  signInIntro: 'Your details go straight to {bank}. {app} never sees them.',
  connect: 'Connect',
  redirectTitle: 'Sign in at {bank}',
  redirectIntro: 'You will sign in on {bank}’s own page and give your consent there, then come back here.',
  continueTo: 'Continue to {bank}',
  attemptsLeft: '{n} attempts left.',
  oneAttemptLeft: '1 attempt left.',
  wrongCredentials: '{bank} did not accept these details. Check them and try again.',
  wrongCode: 'The code was not accepted. Sign in again to get a new one.',
  required: 'Required.',
  // progress
  progressTitle: 'Connecting to {bank}',
  progressIntro: 'This usually takes a few seconds. You can leave this page open.',
  step_verify: 'Signing in',
  step_accounts: 'Fetching accounts',
  step_transactions: 'Fetching transactions',
  stepState_pending: 'waiting',
  'stepState_in-progress': 'in progress',
  stepState_success: 'done',
  stepState_failed: 'failed',
  stepState_interrupted: 'interrupted, trying again',
  submit: 'Submit',
  decoupledHint: 'This page moves on by itself once {bank} confirms.',
  redirecting: 'Taking you to {bank}…',
  refresh: 'Refresh',
  // done
  successTitle: 'Connected',
  successText: 'Your {bank} accounts are now connected to {app}.',
  failedTitle: 'Not connected',
  cancelledTitle: 'Cancelled',
  cancelledText: 'You cancelled. Nothing was connected.',
  expiredTitle: 'This link has expired',
  expiredText: 'Go back to {app} and start again.',
  usedTitle: 'This link has been used',
  usedText: 'Each link works once. Go back to {app} if you want to connect again.',
  returnTo: 'Return to {app}',
  closeWindow: 'You can close this window.',
  backFromBankTitle: 'Back from your bank',
  backFromBankText: 'The app finishes connecting your accounts. You can close this window.',
  failure_unavailable: '{bank} is not available right now. Please try again later.',
  failure_denied: 'You did not give your consent at {bank}, so nothing was connected.',
  failure_attempts: 'The details were not accepted too many times. Go back to {app} and start again.',
  failure_other: 'Something went wrong at {bank}. Please try again later.',
  // errors
  notFoundTitle: 'This link is not valid',
  notFoundText: 'Check the link, or go back to the app and start again.',
  forbiddenTitle: 'This request could not be verified',
  forbiddenText: 'Reload the page and try again.',
  busy: 'Your bank is still being connected. Wait a moment.',
};

type Strings = typeof en;

const de: Strings = {
  htmlTitle: 'Bank verbinden',
  poweredBy: 'Verbindungen werden vom Connections-Service abgesichert.',
  cancel: 'Abbrechen',
  continue: 'Weiter',
  consentTitle: '{app} möchte sich mit Ihrer Bank verbinden',
  consentIntro: 'Dazu bittet {app} um Ihre Einwilligung, Folgendes von Ihrer Bank zu erhalten:',
  consentDuration: 'Ihre Einwilligung gilt {days} Tage.',
  consentRefresh: 'Solange sie gilt, erhält {app} etwa alle {interval} neue Daten.',
  consentWithdraw: 'Sie können Ihre Einwilligung jederzeit widerrufen, in {app} oder bei Ihrer Bank. {app} erhält danach nichts mehr.',
  dataset_BANK_ACCOUNT: 'Ihre Konten: Namen, Arten und Nummern',
  dataset_BANK_BALANCE: 'Ihre Kontostände',
  dataset_BANK_TRANSACTION: 'Ihre Umsätze',
  dataset_USER_INFO: 'Ihren Namen und Ihre Kontaktdaten bei der Bank',
  everything: 'Ihre Konten, Kontostände, Umsätze und Ihre Kontaktdaten bei der Bank',
  hours: '{n} Stunden',
  oneHour: 'Stunde',
  days: '{n} Tage',
  oneDay: 'Tag',
  bankTitle: 'Wählen Sie Ihre Bank',
  searchLabel: 'Banken suchen',
  searchButton: 'Suchen',
  noBanks: 'Keine Bank passt zu „{q}“.',
  banksFound: 'Banken',
  signInTitle: 'Bei {bank} anmelden',
  signInIntro: 'Ihre Angaben gehen direkt an {bank}. {app} sieht sie nie.',
  connect: 'Verbinden',
  redirectTitle: 'Bei {bank} anmelden',
  redirectIntro: 'Sie melden sich auf der Seite von {bank} an, geben dort Ihre Einwilligung und kommen dann hierher zurück.',
  continueTo: 'Weiter zu {bank}',
  attemptsLeft: 'Noch {n} Versuche.',
  oneAttemptLeft: 'Noch 1 Versuch.',
  wrongCredentials: '{bank} hat diese Angaben nicht akzeptiert. Bitte prüfen Sie sie und versuchen Sie es erneut.',
  wrongCode: 'Der Code wurde nicht akzeptiert. Melden Sie sich erneut an, um einen neuen zu erhalten.',
  required: 'Pflichtfeld.',
  progressTitle: 'Verbindung mit {bank}',
  progressIntro: 'Das dauert meist nur wenige Sekunden. Sie können diese Seite geöffnet lassen.',
  step_verify: 'Anmeldung',
  step_accounts: 'Konten werden abgerufen',
  step_transactions: 'Umsätze werden abgerufen',
  stepState_pending: 'wartet',
  'stepState_in-progress': 'läuft',
  stepState_success: 'erledigt',
  stepState_failed: 'fehlgeschlagen',
  stepState_interrupted: 'unterbrochen, neuer Versuch',
  submit: 'Absenden',
  decoupledHint: 'Diese Seite geht von selbst weiter, sobald {bank} bestätigt.',
  redirecting: 'Sie werden zu {bank} weitergeleitet…',
  refresh: 'Aktualisieren',
  successTitle: 'Verbunden',
  successText: 'Ihre Konten bei {bank} sind jetzt mit {app} verbunden.',
  failedTitle: 'Nicht verbunden',
  cancelledTitle: 'Abgebrochen',
  cancelledText: 'Sie haben abgebrochen. Es wurde nichts verbunden.',
  expiredTitle: 'Dieser Link ist abgelaufen',
  expiredText: 'Gehen Sie zurück zu {app} und beginnen Sie erneut.',
  usedTitle: 'Dieser Link wurde bereits verwendet',
  usedText: 'Jeder Link funktioniert nur einmal. Gehen Sie zurück zu {app}, wenn Sie erneut verbinden möchten.',
  returnTo: 'Zurück zu {app}',
  closeWindow: 'Sie können dieses Fenster schließen.',
  backFromBankTitle: 'Zurück von Ihrer Bank',
  backFromBankText: 'Die App verbindet jetzt Ihre Konten. Sie können dieses Fenster schließen.',
  failure_unavailable: '{bank} ist gerade nicht erreichbar. Bitte versuchen Sie es später erneut.',
  failure_denied: 'Sie haben bei {bank} keine Einwilligung gegeben, daher wurde nichts verbunden.',
  failure_attempts: 'Die Angaben wurden zu oft nicht akzeptiert. Gehen Sie zurück zu {app} und beginnen Sie erneut.',
  failure_other: 'Bei {bank} ist etwas schiefgegangen. Bitte versuchen Sie es später erneut.',
  notFoundTitle: 'Dieser Link ist ungültig',
  notFoundText: 'Prüfen Sie den Link, oder gehen Sie zurück zur App und beginnen Sie erneut.',
  forbiddenTitle: 'Diese Anfrage konnte nicht bestätigt werden',
  forbiddenText: 'Laden Sie die Seite neu und versuchen Sie es erneut.',
  busy: 'Ihre Bank wird noch verbunden. Bitte warten Sie einen Moment.',
};

const STRINGS: Record<ConnectLocale, Strings> = { en, de };

export type StringKey = keyof Strings;
export type Translate = (key: StringKey, values?: Record<string, string | number>) => string;

export function translator(locale: ConnectLocale): Translate {
  const strings = STRINGS[locale];
  return (key, values = {}) => strings[key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}

/** The session's language if it has one, else the browser's first one we speak (Accept-Language), else English. */
export function chooseLocale(sessionLocale: string | null, acceptLanguage: string | undefined): ConnectLocale {
  if (sessionLocale && (CONNECT_LOCALES as readonly string[]).includes(sessionLocale)) return sessionLocale as ConnectLocale;
  const wanted = (acceptLanguage ?? '')
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().split(';');
      const q = Number(params.find((p) => p.trim().startsWith('q='))?.split('=')[1] ?? 1);
      return { language: (tag ?? '').toLowerCase().split('-')[0]!, q: Number.isFinite(q) ? q : 0 };
    })
    .filter((w) => w.language && w.q > 0)
    .sort((a, b) => b.q - a.q);
  return (wanted.find((w) => (CONNECT_LOCALES as readonly string[]).includes(w.language))?.language as ConnectLocale | undefined) ?? 'en';
}
