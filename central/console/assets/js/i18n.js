// UI strings in Japanese and English. t(key, vars) substitutes {name}.
// Server messages (error.message) are English; the console shows its own
// translated sentence for each error code and adds the server's message as
// the detail, so nothing the server sends is lost.

const dict = {
  ja: {
    'app.title': 'ATMガード 管理コンソール',
    'lang': '言語',
    'logout': 'ログアウト',
    'skip': '本文へ移動',
    'nav.fleet': '端末', 'nav.compose': '警報作成', 'nav.alerts': '警報一覧', 'nav.approvals': '承認待ち',
    'nav.campaigns': 'キャンペーン', 'nav.audit': '監査ログ', 'nav.users': 'ユーザー', 'nav.guard': '許可リスト',
    'guard.title': '掲載を許可する電話番号・URL', 'guard.explain': '警報やスライドに載せられる電話番号とURLはこのリストにあるものだけです。詐欺師が偽の番号を表示させることを防ぎます。',
    'guard.phones': '電話番号', 'guard.urls': 'URL（前方一致）', 'guard.onePerLine': '1行に1つ', 'guard.saved': '許可リストを保存しました。',
    'guard.updated': '最終更新: {user}（{time}）', 'guard.readonly': '変更できるのは管理者だけです。',
    'conn.down': 'サーバーとの接続が切れました。再接続しています…', 'conn.up': '再接続しました。',
    'login.title': 'ログイン', 'login.username': 'ユーザー名', 'login.password': 'パスワード', 'login.submit': 'ログイン',
    'login.expired': 'セッションの有効期限が切れました。もう一度ログインしてください。',
    'login.loggedout': 'ログアウトしました。',
    'login.revoked': 'セッションが終了しました（パスワードや役割の変更など）。もう一度ログインしてください。',
    'login.shutdown': 'サーバーが停止しました。再起動後にもう一度ログインしてください。',
    'pw.title': 'パスワードの変更', 'pw.first': '初回ログインです。続けるには新しいパスワードを設定してください。',
    'pw.old': '現在のパスワード', 'pw.new': '新しいパスワード（12文字以上）', 'pw.confirm': '新しいパスワード（確認）',
    'pw.submit': '変更する', 'pw.mismatch': '確認用のパスワードが一致しません。', 'pw.done': 'パスワードを変更しました。',
    'err.bad_credentials': 'ユーザー名またはパスワードが正しくありません。',
    'err.rate_limited': '失敗が続いたため一時的にロックされています。{sec}秒後にもう一度お試しください。',
    'err.unauthorized': 'ログインが必要です。',
    'err.password_change_required': '先にパスワードを変更してください。',
    'err.forbidden': 'この操作を行う権限がありません。',
    'err.not_found': '見つかりません。',
    'err.conflict': '他の人が先に変更したか、この状態ではできない操作です。再読み込みしてください。',
    'err.invalid': '入力に誤りがあります。',
    'err.content_guard': '許可リストにない電話番号またはURLが含まれています。',
    'err.content_guard_text': '「{text}」は許可リストにない電話番号またはURLです。警察の公式の番号・URLだけを載せられます。',
        'err.two_person_rule': '二人承認ルール：作成者・申請者本人は承認できません。別の承認者に依頼してください。',
    'err.limit': '上限を超えています。',
    'err.fit': '最小の文字サイズでも画面に収まりません。文章を短くしてください。',
    'err.approve_own': '承認できません。二人承認ルールにより、作成・申請した人とは別の「承認者」が承認する必要があります（あなたの役割: {role}）。承認者に依頼してください。',
    'err.too_large': 'データが大きすぎます。',
    'err.unavailable': 'サーバーが一時的に利用できません。もう一度お試しください。',
    'err.internal': 'サーバー内部のエラーです。',
    'err.bad_request': '要求の形式が正しくありません。',
    'err.unknown_method': 'サーバーがこの操作に対応していません。',
    'err.detail': '詳細: {msg}',
    'common.loading': '読み込み中…', 'common.none': 'ありません。', 'common.prev': '前へ', 'common.next': '次へ',
    'common.page': '{from}–{to} / {total}件', 'common.save': '保存', 'common.cancel': 'キャンセル', 'common.search': '検索',
    'common.all': 'すべて', 'common.refresh': '更新', 'common.close': '閉じる', 'common.back': '戻る',
    'fleet.title': '端末の状況', 'fleet.total': '合計', 'fleet.online': 'オンライン', 'fleet.offline': 'オフライン',
    'fleet.byPref': '都道府県別', 'fleet.byBranch': '{pref} の支店別', 'fleet.pref': '都道府県', 'fleet.branch': '支店',
    'fleet.devices': '端末一覧', 'fleet.search': '端末IDまたは支店IDで検索', 'fleet.state': '状態',
    'fleet.id': '端末ID', 'fleet.lastSeen': '最終通信', 'fleet.version': 'バージョン', 'fleet.screen': '表示中',
    'fleet.clearPref': '都道府県の絞り込みを解除',
    'enroll.title': '端末登録トークン', 'enroll.hours': '有効時間（時間）', 'enroll.create': 'トークンを発行',
    'enroll.token': '登録トークン（一度だけ表示、{time} まで有効）:',
    'dev.title': '端末 {id}', 'dev.status': '状態', 'dev.uptime': '稼働時間', 'dev.frame': 'フレームハッシュ',
    'dev.seqs': 'スナップショット番号', 'dev.cache': 'キャッシュ', 'dev.skew': '時刻のずれ', 'dev.enrolled': '登録日時', 'dev.screenshot': '最新のスクリーンショット',
    'dev.noShot': 'スクリーンショットはまだありません。', 'dev.identify': '識別表示', 'dev.reqShot': 'スクリーンショット取得', 'dev.reload': '再読み込み',
    'dev.sent': 'コマンド「{name}」を送信しました（ID {id}）。', 'dev.taken': '撮影: {time}',
    'compose.title': '警報の作成', 'compose.editTitle': '警報 {id} の編集（下書き）',
    'compose.priority': '優先度（1〜100）', 'compose.issuer': '発信元', 'compose.texts': '本文',
    'compose.lang.ja': '日本語（必須）', 'compose.lang.en': '英語', 'compose.lang.other': '言語: {lang}',
    'compose.headline': '見出し', 'compose.body': '本文', 'compose.instruction': 'とるべき行動',
    'compose.addLang': '言語を追加', 'compose.addLangCode': '言語コード（例: zh, ko, vi）', 'compose.removeLang': 'この言語を削除',
    'compose.target': '配信先', 'compose.t.all': '全端末', 'compose.t.prefs': '都道府県', 'compose.t.branches': '支店', 'compose.t.devices': '端末',
    'compose.idsHelp': 'IDをカンマまたは改行で区切って入力',
    'compose.count': '対象端末: {n}台（オンライン {online}台）', 'compose.countNA': '対象端末: —',
    'compose.needsApproval': 'この配信先は別の承認者の承認が必要です（二人承認ルール）。',
    'compose.noApproval': 'この配信先は申請するとすぐに公開されます。',
    'compose.schedule': '掲示期間', 'compose.effective': '開始（空欄ならすぐ）', 'compose.expires': '終了',
    'compose.qr': 'QRコード（任意）', 'compose.qrUrl': 'URL', 'compose.qrLabel': 'ラベル',
    'compose.preview': 'プレビュー（端末に表示される画像）', 'compose.previewLang': 'プレビューの言語',
    'compose.landscape': '横向き', 'compose.portrait': '縦向き', 'compose.previewAlt': '{orient}のプレビュー',
    'compose.previewWait': '入力するとプレビューが表示されます。', 'compose.previewUpdating': 'プレビュー更新中…',
    'compose.previewOk': 'プレビューを更新しました。', 'compose.previewProblems': 'プレビューを更新しました。直すべき点が {n} 件あります。', 'compose.previewErr': 'プレビューを作れません: {msg}',
    'compose.save': '下書き保存', 'compose.submit': '保存して申請', 'compose.saved': '下書きを保存しました（{id}）。',
    'cap.title': 'CAPファイルから取り込む', 'cap.file': 'CAP 1.2 ファイル（XML）', 'cap.help': '下書きとして取り込みます。公開や取り消しは自動では行いません。',
    'cap.cancel': 'このCAPは警報 {id} の取り消しです。内容を確認して、警報のページで取り消してください。', 'cap.open': '警報 {id} を開く',
    'alerts.title': '警報一覧', 'alerts.state': '状態', 'alerts.id': 'ID', 'alerts.headline': '見出し', 'alerts.target': '配信先',
    'alerts.priority': '優先度', 'alerts.by': '作成者', 'alerts.created': '作成日時', 'alerts.new': '新しい警報',
    'state.draft': '下書き', 'state.pending_approval': '承認待ち', 'state.published': '公開中', 'state.cancelled': '取り消し済み', 'state.expired': '期限切れ', 'state.retired': '終了',
    'alert.title': '警報 {id}', 'alert.version': '版', 'alert.createdBy': '作成', 'alert.submittedBy': '申請', 'alert.approvedBy': '承認',
    'alert.cancelledBy': '取り消し', 'alert.effective': '開始', 'alert.expires': '終了', 'alert.issuer': '発信元',
    'alert.edit': '編集', 'alert.submit': '承認を申請する', 'alert.publish': '公開する', 'alert.approve': '承認して公開', 'alert.reject': '差し戻す',
    'alert.rejectReason': '差し戻しの理由', 'alert.cancel': '配信を取り消す', 'alert.cancelReason': '取り消しの理由',
    'alert.cancelConfirm': 'この警報を全端末から取り消します。', 'alert.exportCap': 'CAPで出力',
    'alert.approved': '承認しました。公開されました。', 'alert.submitted': '申請しました。', 'alert.cancelled': '取り消しました。',
    'alert.rejected': '差し戻しました。', 'alert.published': '公開しました。',
    'target.all': '全端末', 'target.prefs': '都道府県: {list}', 'target.branches': '支店: {list}', 'target.devices': '端末: {list}',
    'deliv.title': '配信状況', 'deliv.targeted': '対象', 'deliv.received': '受信', 'deliv.displayed': '表示', 'deliv.rejected': '拒否',
    'deliv.of': '{n} / {total}台', 'deliv.reasons': '拒否の理由', 'deliv.still': 'まだ {n} 台に表示されています',
    'deliv.stillZero': 'すべての端末から消えました（0台）', 'deliv.summary': '{displayed}/{targeted}台に表示、{received}台受信、{rejected}台拒否',
    'deliv.updated': '更新: {time}',
    'appr.title': '承認待ち', 'appr.none': '承認待ちの警報はありません。', 'appr.onlyApprovers': '承認できるのは承認者と管理者だけです。',
    'appr.open': '詳細',
    'camp.title': 'キャンペーンスライド', 'camp.new': '新しいスライド', 'camp.duration': '表示秒数', 'camp.images': '画像（PNG/JPEG、4MiBまで）', 'camp.imagesCol': '画像',
    'camp.upload': '画像をアップロード', 'camp.uploaded': 'アップロードしました: {sha}', 'camp.badType': 'PNGまたはJPEGの画像を選んでください。',
    'camp.tooBig': 'ファイルが大きすぎます（{size}、上限 4 MiB）。', 'camp.create': 'スライドを作成', 'camp.publish': '公開',
    'camp.approve': '承認', 'camp.retire': '取り下げ', 'camp.submit': '承認を申請', 'camp.up': '上へ', 'camp.down': '下へ', 'camp.order': '順番',
    'camp.created': 'スライドを作成しました。', 'camp.removeImage': '画像を外す',
    'audit.title': '監査ログ', 'audit.user': 'ユーザー', 'audit.userId': 'ユーザーID（例: u-2）', 'audit.action': '操作', 'audit.target': '対象', 'audit.since': '開始', 'audit.until': '終了',
    'audit.filter': '絞り込み', 'audit.time': '日時', 'audit.detail': '詳細', 'audit.remote': '接続元', 'audit.verify': '改ざん検査',
    'audit.ok': 'ハッシュチェーンは正常です（{n}件）。', 'audit.broken': 'ハッシュチェーンが第{n}件で壊れています。',
    'users.title': 'ユーザー管理', 'users.username': 'ユーザー名', 'users.role': '役割', 'users.displayName': '表示名（任意）', 'users.disabled': '無効',
    'users.mustChange': 'パスワード変更待ち', 'users.lastLogin': '最終ログイン', 'users.create': 'ユーザーを作成',
    'users.initial': '{user} の初期パスワード（一度だけ表示されます）:', 'users.reset': 'パスワード再発行',
    'users.disable': '無効にする', 'users.enable': '有効にする', 'users.setRole': '役割を変更', 'users.yes': 'はい', 'users.no': 'いいえ',
    'role.admin': '管理者', 'role.publisher': '作成者', 'role.approver': '承認者', 'role.viewer': '閲覧者', 'role.fieldtech': '保守技術者',
  },
  en: {
    'app.title': 'ATM Guard Console',
    'lang': 'Language',
    'logout': 'Log out',
    'skip': 'Skip to content',
    'nav.fleet': 'Fleet', 'nav.compose': 'Compose', 'nav.alerts': 'Alerts', 'nav.approvals': 'Approvals',
    'nav.campaigns': 'Campaign', 'nav.audit': 'Audit log', 'nav.users': 'Users', 'nav.guard': 'Allow-list',
    'guard.title': 'Phone numbers and URLs allowed on screen', 'guard.explain': 'Alerts and slides may only show phone numbers and URLs on this list, so nobody can put a scammer\'s number on a display.',
    'guard.phones': 'Phone numbers', 'guard.urls': 'URL prefixes', 'guard.onePerLine': 'One per line', 'guard.saved': 'Allow-list saved.',
    'guard.updated': 'Last changed by {user} ({time})', 'guard.readonly': 'Only admins can change it.',
    'conn.down': 'Connection to central lost. Reconnecting…', 'conn.up': 'Reconnected.',
    'login.title': 'Log in', 'login.username': 'Username', 'login.password': 'Password', 'login.submit': 'Log in',
    'login.expired': 'Your session has expired. Please log in again.',
    'login.loggedout': 'You have logged out.',
    'login.revoked': 'Your session was ended (password or role changed, or account disabled). Please log in again.',
    'login.shutdown': 'Central shut down. Log in again when it is back.',
    'pw.title': 'Change password', 'pw.first': 'This is your first login. Set a new password to continue.',
    'pw.old': 'Current password', 'pw.new': 'New password (12 characters or more)', 'pw.confirm': 'Repeat new password',
    'pw.submit': 'Change password', 'pw.mismatch': 'The two new passwords differ.', 'pw.done': 'Password changed.',
    'err.bad_credentials': 'Wrong username or password.',
    'err.rate_limited': 'Too many failed attempts. Try again in {sec} s.',
    'err.unauthorized': 'Please log in.',
    'err.password_change_required': 'Change your password first.',
    'err.forbidden': 'Your role may not do this.',
    'err.not_found': 'Not found.',
    'err.conflict': 'Someone changed this first, or it is in the wrong state for this action. Reload and retry.',
    'err.invalid': 'Please correct this field.',
    'err.content_guard': 'Contains a phone number or URL that is not on the allow-list.',
    'err.content_guard_text': '"{text}" is a phone number or URL that is not on the allow-list. Only official police numbers and sites may be shown.',
        'err.two_person_rule': 'Two-person rule: the author or submitter cannot approve. Ask a different approver.',
    'err.limit': 'Over the limit.',
    'err.fit': 'Does not fit on the screen even at the smallest font size. Shorten the text.',
    'err.approve_own': 'You cannot approve this. Under the two-person rule a different person with the approver role must approve it (your role: {role}). Ask an approver.',
    'err.too_large': 'Too large.',
    'err.unavailable': 'Central is temporarily unavailable. Try again.',
    'err.internal': 'Internal error in central.',
    'err.bad_request': 'Malformed request.',
    'err.unknown_method': 'Central does not support this action.',
    'err.detail': 'Detail: {msg}',
    'common.loading': 'Loading…', 'common.none': 'Nothing here.', 'common.prev': 'Previous', 'common.next': 'Next',
    'common.page': '{from}–{to} of {total}', 'common.save': 'Save', 'common.cancel': 'Cancel', 'common.search': 'Search',
    'common.all': 'All', 'common.refresh': 'Refresh', 'common.close': 'Close', 'common.back': 'Back',
    'fleet.title': 'Fleet', 'fleet.total': 'Total', 'fleet.online': 'Online', 'fleet.offline': 'Offline',
    'fleet.byPref': 'By prefecture', 'fleet.byBranch': 'Branches in {pref}', 'fleet.pref': 'Prefecture', 'fleet.branch': 'Branch',
    'fleet.devices': 'Devices', 'fleet.search': 'Search device or branch id', 'fleet.state': 'State',
    'fleet.id': 'Device', 'fleet.lastSeen': 'Last seen', 'fleet.version': 'Version', 'fleet.screen': 'Screen',
    'fleet.clearPref': 'Clear prefecture filter',
    'enroll.title': 'Enrollment token', 'enroll.hours': 'Valid for (hours)', 'enroll.create': 'Create token',
    'enroll.token': 'Enrollment token (shown once, valid until {time}):',
    'dev.title': 'Device {id}', 'dev.status': 'State', 'dev.uptime': 'Uptime', 'dev.frame': 'Frame hash',
    'dev.seqs': 'Snapshot seqs', 'dev.cache': 'Cache', 'dev.skew': 'Clock skew', 'dev.enrolled': 'Enrolled', 'dev.screenshot': 'Last screenshot',
    'dev.noShot': 'No screenshot yet.', 'dev.identify': 'Identify', 'dev.reqShot': 'Take screenshot', 'dev.reload': 'Reload',
    'dev.sent': 'Command "{name}" sent (id {id}).', 'dev.taken': 'Taken: {time}',
    'compose.title': 'Compose alert', 'compose.editTitle': 'Edit draft {id}',
    'compose.priority': 'Priority (1–100)', 'compose.issuer': 'Issuer', 'compose.texts': 'Texts',
    'compose.lang.ja': 'Japanese (required)', 'compose.lang.en': 'English', 'compose.lang.other': 'Language: {lang}',
    'compose.headline': 'Headline', 'compose.body': 'Body', 'compose.instruction': 'What to do',
    'compose.addLang': 'Add language', 'compose.addLangCode': 'Language code (e.g. zh, ko, vi)', 'compose.removeLang': 'Remove this language',
    'compose.target': 'Target', 'compose.t.all': 'All displays', 'compose.t.prefs': 'Prefectures', 'compose.t.branches': 'Branches', 'compose.t.devices': 'Devices',
    'compose.idsHelp': 'Ids separated by commas or new lines',
    'compose.count': 'Targeted displays: {n} ({online} online)', 'compose.countNA': 'Targeted displays: —',
    'compose.needsApproval': 'This target needs approval by a second person (two-person rule).',
    'compose.noApproval': 'This target is published as soon as it is submitted.',
    'compose.schedule': 'Schedule', 'compose.effective': 'From (empty: at once)', 'compose.expires': 'Until',
    'compose.qr': 'QR code (optional)', 'compose.qrUrl': 'URL', 'compose.qrLabel': 'Label',
    'compose.preview': 'Preview (exactly what the display shows)', 'compose.previewLang': 'Preview language',
    'compose.landscape': 'Landscape', 'compose.portrait': 'Portrait', 'compose.previewAlt': '{orient} preview',
    'compose.previewWait': 'The preview appears as you type.', 'compose.previewUpdating': 'Updating preview…',
    'compose.previewOk': 'Preview updated.', 'compose.previewProblems': 'Preview updated. {n} problem(s) to fix.', 'compose.previewErr': 'Cannot preview: {msg}',
    'compose.save': 'Save draft', 'compose.submit': 'Save and submit', 'compose.saved': 'Draft saved ({id}).',
    'cap.title': 'Import from a CAP file', 'cap.file': 'CAP 1.2 file (XML)', 'cap.help': 'Imported as a draft. Nothing is published or cancelled automatically.',
    'cap.cancel': 'This CAP message cancels alert {id}. Check it and cancel it on the alert\'s page.', 'cap.open': 'Open alert {id}',
    'alerts.title': 'Alerts', 'alerts.state': 'State', 'alerts.id': 'Id', 'alerts.headline': 'Headline', 'alerts.target': 'Target',
    'alerts.priority': 'Priority', 'alerts.by': 'Author', 'alerts.created': 'Created', 'alerts.new': 'New alert',
    'state.draft': 'Draft', 'state.pending_approval': 'Pending approval', 'state.published': 'Published', 'state.cancelled': 'Cancelled', 'state.expired': 'Expired', 'state.retired': 'Retired',
    'alert.title': 'Alert {id}', 'alert.version': 'Version', 'alert.createdBy': 'Created by', 'alert.submittedBy': 'Submitted by', 'alert.approvedBy': 'Approved by',
    'alert.cancelledBy': 'Cancelled by', 'alert.effective': 'From', 'alert.expires': 'Until', 'alert.issuer': 'Issuer',
    'alert.edit': 'Edit', 'alert.submit': 'Submit for approval', 'alert.publish': 'Publish', 'alert.approve': 'Approve and publish', 'alert.reject': 'Send back',
    'alert.rejectReason': 'Reason for sending back', 'alert.cancel': 'Cancel alert', 'alert.cancelReason': 'Reason for cancelling',
    'alert.cancelConfirm': 'This withdraws the alert from every display.', 'alert.exportCap': 'Export CAP',
    'alert.approved': 'Approved and published.', 'alert.submitted': 'Submitted.', 'alert.cancelled': 'Cancelled.',
    'alert.rejected': 'Sent back to draft.', 'alert.published': 'Published.',
    'target.all': 'All displays', 'target.prefs': 'Prefectures: {list}', 'target.branches': 'Branches: {list}', 'target.devices': 'Devices: {list}',
    'deliv.title': 'Delivery', 'deliv.targeted': 'Targeted', 'deliv.received': 'Received', 'deliv.displayed': 'Displayed', 'deliv.rejected': 'Rejected',
    'deliv.of': '{n} of {total}', 'deliv.reasons': 'Rejection reasons', 'deliv.still': 'Still displayed on {n}',
    'deliv.stillZero': 'Gone from every display (0)', 'deliv.summary': 'Displayed on {displayed} of {targeted}, received by {received}, rejected by {rejected}',
    'deliv.updated': 'Updated {time}',
    'appr.title': 'Approval queue', 'appr.none': 'No alerts are waiting for approval.', 'appr.onlyApprovers': 'Only approvers and admins can approve.',
    'appr.open': 'Details',
    'camp.title': 'Campaign slides', 'camp.new': 'New slide', 'camp.duration': 'Seconds on screen', 'camp.images': 'Images (PNG/JPEG, up to 4 MiB)', 'camp.imagesCol': 'Images',
    'camp.upload': 'Upload image', 'camp.uploaded': 'Uploaded: {sha}', 'camp.badType': 'Choose a PNG or JPEG image.',
    'camp.tooBig': 'File too large ({size}, limit 4 MiB).', 'camp.create': 'Create slide', 'camp.publish': 'Publish',
    'camp.approve': 'Approve', 'camp.retire': 'Withdraw', 'camp.submit': 'Submit for approval', 'camp.up': 'Up', 'camp.down': 'Down', 'camp.order': 'Order',
    'camp.created': 'Slide created.', 'camp.removeImage': 'Remove image',
    'audit.title': 'Audit log', 'audit.user': 'User', 'audit.userId': 'User id (e.g. u-2)', 'audit.action': 'Action', 'audit.target': 'Target', 'audit.since': 'Since', 'audit.until': 'Until',
    'audit.filter': 'Filter', 'audit.time': 'Time', 'audit.detail': 'Detail', 'audit.remote': 'From', 'audit.verify': 'Verify chain',
    'audit.ok': 'Hash chain intact ({n} entries).', 'audit.broken': 'Hash chain broken at entry {n}.',
    'users.title': 'Users', 'users.username': 'Username', 'users.role': 'Role', 'users.displayName': 'Display name (optional)', 'users.disabled': 'Disabled',
    'users.mustChange': 'Must change password', 'users.lastLogin': 'Last login', 'users.create': 'Create user',
    'users.initial': 'Initial password for {user} (shown once):', 'users.reset': 'Reset password',
    'users.disable': 'Disable', 'users.enable': 'Enable', 'users.setRole': 'Change role', 'users.yes': 'yes', 'users.no': 'no',
    'role.admin': 'Admin', 'role.publisher': 'Publisher', 'role.approver': 'Approver', 'role.viewer': 'Viewer', 'role.fieldtech': 'Field tech',
  },
};

let lang = (() => {
  const saved = localStorage.getItem('atmguard.lang');
  if (saved === 'ja' || saved === 'en') return saved;
  return (navigator.language || 'ja').startsWith('ja') ? 'ja' : 'en';
})();

export function getLang() { return lang; }
export function setLang(l) {
  if (!dict[l]) return;
  lang = l;
  localStorage.setItem('atmguard.lang', l);
  document.documentElement.lang = l;
}

export function t(key, vars) {
  let s = dict[lang][key] ?? dict.en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// errText is the sentence to show for an ApiError, in the UI language,
// followed by the server's own (English) message when it adds something.
// problemText is the sentence for one problem of alerts.check/preview.
export function problemText(p) {
  return errText({ code: p.code, message: p.message, text: p.text });
}

export function errText(e) {
  const code = (e && e.code) || 'internal';
  const key = 'err.' + code;
  const msg = e && e.message;
  let s = dict[lang][key] ? t(key, { sec: e.retryAfter || e.retry_after_sec || '?' }) : t('err.internal');
  if (code === 'content_guard' && e.text) s = t('err.content_guard_text', { text: e.text });
  // A text that does not fit the screen is "invalid" with a message saying
  // so (the API has no separate code); it gets its own sentence.
  if (code === 'invalid' && /does not fit/.test(msg || '')) s = t('err.fit');
  if (msg && code !== 'bad_credentials') s += ' ' + t('err.detail', { msg });
  return s;
}

// PREFS: JIS X 0401 prefecture codes with Japanese and English names.
const PREF_NAMES = [
  ['北海道', 'Hokkaido'], ['青森県', 'Aomori'], ['岩手県', 'Iwate'], ['宮城県', 'Miyagi'], ['秋田県', 'Akita'],
  ['山形県', 'Yamagata'], ['福島県', 'Fukushima'], ['茨城県', 'Ibaraki'], ['栃木県', 'Tochigi'], ['群馬県', 'Gunma'],
  ['埼玉県', 'Saitama'], ['千葉県', 'Chiba'], ['東京都', 'Tokyo'], ['神奈川県', 'Kanagawa'], ['新潟県', 'Niigata'],
  ['富山県', 'Toyama'], ['石川県', 'Ishikawa'], ['福井県', 'Fukui'], ['山梨県', 'Yamanashi'], ['長野県', 'Nagano'],
  ['岐阜県', 'Gifu'], ['静岡県', 'Shizuoka'], ['愛知県', 'Aichi'], ['三重県', 'Mie'], ['滋賀県', 'Shiga'],
  ['京都府', 'Kyoto'], ['大阪府', 'Osaka'], ['兵庫県', 'Hyogo'], ['奈良県', 'Nara'], ['和歌山県', 'Wakayama'],
  ['鳥取県', 'Tottori'], ['島根県', 'Shimane'], ['岡山県', 'Okayama'], ['広島県', 'Hiroshima'], ['山口県', 'Yamaguchi'],
  ['徳島県', 'Tokushima'], ['香川県', 'Kagawa'], ['愛媛県', 'Ehime'], ['高知県', 'Kochi'], ['福岡県', 'Fukuoka'],
  ['佐賀県', 'Saga'], ['長崎県', 'Nagasaki'], ['熊本県', 'Kumamoto'], ['大分県', 'Oita'], ['宮崎県', 'Miyazaki'],
  ['鹿児島県', 'Kagoshima'], ['沖縄県', 'Okinawa'],
];
export const PREFS = PREF_NAMES.map((n, i) => ({ code: String(i + 1).padStart(2, '0'), ja: n[0], en: n[1] }));

export function prefName(code) {
  const p = PREFS.find((x) => x.code === code);
  if (!p) return code || '—';
  return `${code} ${lang === 'ja' ? p.ja : p.en}`;
}

export const ROLES = ['admin', 'publisher', 'approver', 'viewer', 'fieldtech'];
