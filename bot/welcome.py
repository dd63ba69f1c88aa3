"""What a language channel says to families: the pinned welcome, and the notices when a meeting starts,
pauses, resumes and ends. Seeded for English and the 12 glossary languages; any other language gets the
English text, marked draft, for the Discord side to machine-translate at run time.

Every seeded text here is a **draft** (`draft=True`): no reviewed wording for this purpose (a Discord
channel, machine translation checked by volunteers, a privacy note) was found, so it was written for
Concord. The Discord side shows the draft mark (`draft_note`) until a volunteer reviews the text and sets
`draft=False` with the reviewer or document in `sources`.

Where published, reviewed school wording exists for a sentence, it was the basis, adapted:
- zh-CN, ko, ru "interpretation is free; tell the school staff": Northshore School District (WA),
  "Interpreter and Translation Services", https://www.nsd.org/connect/contact-us/interpreter-translation-services
  (district translations of its language-access notice).
Leads for reviewers (official translations exist, but their text was not available to copy here):
- Hawaii DOE "Notice of Language Assistance" (tl, zh, ko, es, vi, sm, to, ...): "If you have difficulty
  understanding English, you have the right to receive language assistance at no cost to you."
- Washington OSPI "Parents' Rights: Interpretation and Translation Services" (ar, km, zh, ko, pa, ru, sm,
  es, tl, vi, ...): https://ospi.k12.wa.us/policy-funding/equity-and-civil-rights/information-families-civil-rights-washington-schools/interpretation-and-translation-services
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import languages
from bot.bidi import for_discord

NOTICES = ("started", "paused", "resumed", "ended")
NORTHSHORE = "https://www.nsd.org/connect/contact-us/interpreter-translation-services"


@dataclass(frozen=True)
class Texts:
    title: str
    how: str
    machine: str
    ask: str
    privacy: str  # "{days}": how long meeting text is kept
    started: str
    paused: str
    resumed: str
    ended: str
    draft_note: str  # shown beside a text that no person has reviewed yet
    draft: bool = True
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notice:
    language: str  # the language `text` is in (English when the reader's language is not seeded)
    text: str  # ready for Discord: Markdown, RTL marks where needed
    draft: bool  # not reviewed by a person: show `draft_note`
    sources: tuple[str, ...] = ()


TEXTS: dict[str, Texts] = {
    "en": Texts(
        title="👋 Welcome to **{meeting}**!",
        how="During the meeting, everything said in the main channel appears here in your language, under the "
        "speaker's name. Write here in your language: the facilitator reads your message in English, and the "
        "other families read it in theirs.",
        machine="A machine does the translation and volunteers review it. It can contain mistakes. To see the "
        "original text of a message, touch and hold it (right-click on a computer) and choose “Show original”.",
        ask="To ask a question, write it here in your language. Interpretation is free: if you would rather have a "
        "person interpret, say so here or tell the school staff.",
        privacy="🔒 Privacy: your messages are sent to a translation service and kept for {days} days for the "
        "meeting record. Do not write personal information here (for example health details or ID numbers); for "
        "private matters, ask the school for a meeting on your own.",
        started="▶️ **{meeting}** has started. Messages are translated from now on.",
        paused="⏸️ **{meeting}** is paused. Messages are not translated for now.",
        resumed="▶️ **{meeting}** has resumed. Messages are translated again.",
        ended="⏹️ **{meeting}** has ended. Thank you for taking part.",
        draft_note="Draft: not yet reviewed by a person.",
        draft=False,  # the source text; the other languages are translations of it
    ),
    "es": Texts(
        title="👋 ¡Bienvenidos a **{meeting}**!",
        how="Durante la reunión, todo lo que se dice en el canal principal aparece aquí en español, con el nombre "
        "de quien habla. Escriba aquí en español: quien facilita la reunión lee su mensaje en inglés, y las demás "
        "familias lo leen en su idioma.",
        machine="La traducción la hace una máquina y la revisan voluntarios. Puede tener errores. Para ver el texto "
        "original de un mensaje, manténgalo presionado (en una computadora, haga clic derecho) y elija "
        "«Show original».",
        ask="Para hacer una pregunta, escríbala aquí en español. La interpretación es gratuita: si prefiere que una "
        "persona le interprete, dígalo aquí o avise al personal de la escuela.",
        privacy="🔒 Privacidad: sus mensajes se envían a un servicio de traducción y se guardan {days} días para el "
        "registro de la reunión. No escriba aquí información personal (por ejemplo, datos de salud o números de "
        "identificación); para temas privados, pida a la escuela una reunión aparte.",
        started="▶️ La reunión **{meeting}** ha comenzado. Desde ahora los mensajes se traducen.",
        paused="⏸️ La reunión **{meeting}** está en pausa. Por ahora los mensajes no se traducen.",
        resumed="▶️ La reunión **{meeting}** continúa. Los mensajes se traducen de nuevo.",
        ended="⏹️ La reunión **{meeting}** ha terminado. Gracias por participar.",
        draft_note="Borrador: este texto aún no ha sido revisado por una persona.",
    ),
    "vi": Texts(
        title="👋 Chào mừng quý vị đến với **{meeting}**!",
        how="Trong buổi họp, mọi điều được nói trong kênh chính sẽ hiện ra ở đây bằng tiếng Việt, kèm tên người "
        "nói. Quý vị hãy viết ở đây bằng tiếng Việt: người điều phối sẽ đọc tin nhắn của quý vị bằng tiếng Anh, "
        "và các gia đình khác đọc bằng ngôn ngữ của họ.",
        machine="Bản dịch do máy thực hiện và được tình nguyện viên xem lại. Bản dịch có thể có lỗi. Để xem nguyên "
        "văn của một tin nhắn, hãy nhấn giữ tin nhắn đó (trên máy tính, bấm chuột phải) và chọn “Show original”.",
        ask="Để đặt câu hỏi, quý vị chỉ cần viết câu hỏi ở đây bằng tiếng Việt. Dịch vụ thông dịch là miễn phí: nếu "
        "quý vị muốn có người thông dịch, hãy cho biết ở đây hoặc báo cho nhân viên nhà trường.",
        privacy="🔒 Quyền riêng tư: tin nhắn của quý vị được gửi đến một dịch vụ dịch thuật và được lưu {days} ngày "
        "để làm biên bản buổi họp. Xin đừng viết thông tin cá nhân ở đây (ví dụ thông tin sức khỏe hoặc số giấy "
        "tờ tùy thân); với những vấn đề riêng tư, hãy xin nhà trường một buổi gặp riêng.",
        started="▶️ Buổi họp **{meeting}** đã bắt đầu. Từ bây giờ tin nhắn sẽ được dịch.",
        paused="⏸️ Buổi họp **{meeting}** đang tạm dừng. Hiện tại tin nhắn không được dịch.",
        resumed="▶️ Buổi họp **{meeting}** tiếp tục. Tin nhắn lại được dịch.",
        ended="⏹️ Buổi họp **{meeting}** đã kết thúc. Cảm ơn quý vị đã tham gia.",
        draft_note="Bản nháp: chưa được người thật xem lại.",
    ),
    "zh-TW": Texts(
        title="👋 歡迎參加 **{meeting}**！",
        how="會議期間，主頻道中的所有發言都會以中文顯示在這裡，並附上發言者的名字。請在這裡用中文留言："
        "主持人會看到英文版本，其他家庭會看到他們語言的版本。",
        machine="翻譯由機器完成，並由志工審閱，可能會有錯誤。如要查看訊息的原文，請長按該訊息（電腦上請按右鍵），"
        "然後選擇「Show original」。",
        ask="如有問題，請直接在這裡用中文提出。口譯服務是免費的：如果您希望由真人口譯，請在這裡說明，"
        "或告訴學校工作人員。",
        privacy="🔒 隱私：您的訊息會傳送到翻譯服務，並保存 {days} 天作為會議記錄。請不要在這裡寫個人資料"
        "（例如健康狀況或證件號碼）；私人事項請向學校要求單獨會談。",
        started="▶️ **{meeting}** 已開始。從現在起，訊息會被翻譯。",
        paused="⏸️ **{meeting}** 暫停中。目前訊息不會被翻譯。",
        resumed="▶️ **{meeting}** 繼續進行。訊息會再次被翻譯。",
        ended="⏹️ **{meeting}** 已結束。感謝您的參與。",
        draft_note="草稿：尚未經過人工審閱。",
    ),
    "zh-CN": Texts(
        title="👋 欢迎参加 **{meeting}**！",
        how="会议期间，主频道中的所有发言都会以中文显示在这里，并附上发言者的名字。请在这里用中文留言："
        "主持人会看到英文版本，其他家庭会看到他们语言的版本。",
        machine="翻译由机器完成，并由志愿者审阅，可能会有错误。如要查看消息的原文，请长按该消息（电脑上请点右键），"
        "然后选择“Show original”。",
        ask="如有问题，请直接在这里用中文提出。学校向家长免费提供口译服务：如果您希望由真人口译，请在这里说明，"
        "或告诉学校的相关人员。",
        privacy="🔒 隐私：您的消息会发送到翻译服务，并保存 {days} 天作为会议记录。请不要在这里写个人信息"
        "（例如健康状况或证件号码）；私人事项请向学校要求单独面谈。",
        started="▶️ **{meeting}** 已开始。从现在起，消息会被翻译。",
        paused="⏸️ **{meeting}** 暂停中。目前消息不会被翻译。",
        resumed="▶️ **{meeting}** 继续进行。消息会再次被翻译。",
        ended="⏹️ **{meeting}** 已结束。感谢您的参与。",
        draft_note="草稿：尚未经过人工审阅。",
        sources=(NORTHSHORE,),
    ),
    "ko": Texts(
        title="👋 **{meeting}**에 오신 것을 환영합니다!",
        how="회의 중에 메인 채널에서 나오는 모든 말이 말한 사람의 이름과 함께 이곳에 한국어로 표시됩니다. 이곳에 "
        "한국어로 글을 쓰시면 진행자는 영어로, 다른 가족들은 각자의 언어로 읽게 됩니다.",
        machine="번역은 기계가 하고 자원봉사자가 검토합니다. 오류가 있을 수 있습니다. 메시지의 원문을 보려면 메시지를 "
        "길게 누른 다음(컴퓨터에서는 마우스 오른쪽 버튼 클릭) “Show original”을 선택하세요.",
        ask="질문이 있으시면 이곳에 한국어로 써 주세요. 통역은 무료로 제공됩니다. 사람의 통역이 필요한 경우에는 이곳에 "
        "말씀하시거나 학교 교직원에게 말씀해 주시기 바랍니다.",
        privacy="🔒 개인정보: 메시지는 번역 서비스로 전송되며, 회의 기록을 위해 {days}일 동안 보관됩니다. 이곳에 개인 "
        "정보(예: 건강 정보나 신분증 번호)를 쓰지 마세요. 개인적인 문제는 학교에 따로 면담을 요청하세요.",
        started="▶️ **{meeting}** 회의가 시작되었습니다. 지금부터 메시지가 번역됩니다.",
        paused="⏸️ **{meeting}** 회의가 잠시 중단되었습니다. 지금은 메시지가 번역되지 않습니다.",
        resumed="▶️ **{meeting}** 회의가 다시 시작되었습니다. 메시지가 다시 번역됩니다.",
        ended="⏹️ **{meeting}** 회의가 끝났습니다. 참여해 주셔서 감사합니다.",
        draft_note="초안: 아직 사람이 검토하지 않았습니다.",
        sources=(NORTHSHORE,),
    ),
    "tl": Texts(
        title="👋 Maligayang pagdating sa **{meeting}**!",
        how="Habang nagpupulong, lahat ng sinasabi sa pangunahing channel ay lalabas dito sa Filipino, kasama ang "
        "pangalan ng nagsasalita. Sumulat dito sa Filipino: mababasa ng facilitator ang mensahe mo sa Ingles, at "
        "mababasa ito ng ibang pamilya sa kanilang wika.",
        machine="Makina ang gumagawa ng salin at sinusuri ito ng mga boluntaryo. Maaaring may mali. Para makita ang "
        "orihinal na teksto ng isang mensahe, pindutin ito nang matagal (sa computer, i-right-click) at piliin ang "
        "“Show original”.",
        ask="Para magtanong, isulat lang ang tanong mo dito sa Filipino. Libre ang interpretasyon: kung gusto mong "
        "may taong mag-interpret para sa iyo, sabihin ito dito o sa mga kawani ng paaralan.",
        privacy="🔒 Privacy: ipinapadala ang mga mensahe mo sa isang serbisyo ng pagsasalin at itinatago nang {days} "
        "araw para sa tala ng pulong. Huwag isulat dito ang personal na impormasyon (halimbawa, tungkol sa "
        "kalusugan o mga numero ng ID); para sa mga pribadong usapin, humingi sa paaralan ng hiwalay na pulong.",
        started="▶️ Nagsimula na ang **{meeting}**. Isinasalin na ang mga mensahe mula ngayon.",
        paused="⏸️ Naka-pause ang **{meeting}**. Hindi muna isinasalin ang mga mensahe.",
        resumed="▶️ Nagpatuloy ang **{meeting}**. Isinasalin muli ang mga mensahe.",
        ended="⏹️ Tapos na ang **{meeting}**. Salamat sa pakikilahok.",
        draft_note="Draft: hindi pa nasusuri ng isang tao.",
    ),
    "ar": Texts(
        title="👋 أهلًا بكم في **{meeting}**!",
        how="خلال الاجتماع، يظهر هنا باللغة العربية كل ما يُقال في القناة الرئيسية، مع اسم المتحدث. اكتبوا هنا "
        "بالعربية: يقرأ الميسّر رسالتكم بالإنجليزية، وتقرؤها العائلات الأخرى بلغاتها.",
        machine="تتم الترجمة آليًا ويراجعها متطوعون، وقد تحتوي على أخطاء. لرؤية النص الأصلي لرسالة، اضغطوا عليها "
        "مطولًا (أو انقروا بزر الفأرة الأيمن على الحاسوب) واختاروا “Show original”.",
        ask="لطرح سؤال، اكتبوه هنا بالعربية. الترجمة الشفوية مجانية: إذا كنتم تفضلون أن يترجم لكم شخص، فاذكروا ذلك "
        "هنا أو أخبروا موظفي المدرسة.",
        privacy="🔒 الخصوصية: تُرسل رسائلكم إلى خدمة ترجمة وتُحفظ لمدة {days} يومًا لسجل الاجتماع. لا تكتبوا هنا "
        "معلومات شخصية (مثل المعلومات الصحية أو أرقام الهوية)، وللأمور الخاصة اطلبوا من المدرسة اجتماعًا منفردًا.",
        started="▶️ بدأ اجتماع **{meeting}**. تتم ترجمة الرسائل من الآن.",
        paused="⏸️ اجتماع **{meeting}** متوقف مؤقتًا. لا تتم ترجمة الرسائل حاليًا.",
        resumed="▶️ استُؤنف اجتماع **{meeting}**. تتم ترجمة الرسائل من جديد.",
        ended="⏹️ انتهى اجتماع **{meeting}**. شكرًا لمشاركتكم.",
        draft_note="مسودة: لم يراجعها شخص بعد.",
    ),
    "ru": Texts(
        title="👋 Добро пожаловать на **{meeting}**!",
        how="Во время собрания всё, что говорится в главном канале, появляется здесь на русском языке с именем "
        "говорящего. Пишите здесь по-русски: ведущий прочитает ваше сообщение на английском, а другие семьи — на "
        "своих языках.",
        machine="Перевод делает машина, а волонтёры его проверяют. В нём могут быть ошибки. Чтобы увидеть исходный "
        "текст сообщения, нажмите на него и удерживайте (на компьютере — щёлкните правой кнопкой мыши) и выберите "
        "«Show original».",
        ask="Чтобы задать вопрос, просто напишите его здесь по-русски. Услуги устного перевода бесплатны: если вам "
        "нужна помощь устного переводчика, скажите об этом здесь или сообщите кому-либо из персонала школы.",
        privacy="🔒 Конфиденциальность: ваши сообщения отправляются в службу перевода и хранятся {days} дней для "
        "протокола собрания. Не пишите здесь личную информацию (например, сведения о здоровье или номера "
        "документов); по личным вопросам попросите школу об отдельной встрече.",
        started="▶️ Собрание **{meeting}** началось. С этого момента сообщения переводятся.",
        paused="⏸️ Собрание **{meeting}** приостановлено. Сейчас сообщения не переводятся.",
        resumed="▶️ Собрание **{meeting}** продолжается. Сообщения снова переводятся.",
        ended="⏹️ Собрание **{meeting}** закончилось. Спасибо за участие.",
        draft_note="Черновик: текст ещё не проверен человеком.",
        sources=(NORTHSHORE,),
    ),
    "hmn": Texts(
        title="👋 Zoo siab txais tos koj tuaj koom **{meeting}**!",
        how="Thaum lub rooj sib tham, txhua yam uas hais hauv channel loj yuav tshwm ntawm no ua lus Hmoob, nrog "
        "rau tus neeg hais lub npe. Sau ntawv ntawm no ua lus Hmoob: tus coj rooj sib tham yuav nyeem koj cov lus ua "
        "lus Askiv, thiab lwm tsev neeg yuav nyeem ua lawv hom lus.",
        machine="Lub tshuab yog tus txhais lus, thiab cov neeg pab dawb kuaj xyuas. Tej zaum yuav muaj qhov yuam "
        "kev. Yog xav pom cov lus qub ntawm ib tsab xov, nias ntev rau nws (ntawm lub computer, nias sab xis) thiab "
        "xaiv “Show original”.",
        ask="Yog koj muaj lus nug, sau koj cov lus nug ntawm no ua lus Hmoob. Kev txhais lus yog pub dawb: yog koj "
        "xav kom ib tug neeg txhais lus rau koj, qhia ntawm no los sis qhia rau cov neeg ua haujlwm hauv tsev kawm "
        "ntawv.",
        privacy="🔒 Kev ceev ntiag tug: koj cov lus raug xa mus rau ib qho kev pab txhais lus thiab khaws cia {days} "
        "hnub rau cov ntaub ntawv sau tseg ntawm lub rooj sib tham. Tsis txhob sau koj cov ntaub ntawv ntiag tug "
        "ntawm no (xws li txog kev noj qab haus huv los sis tus lej ID); yog muaj teeb meem ntiag tug, thov tsev "
        "kawm ntawv teem sij hawm sib tham ib leeg.",
        started="▶️ **{meeting}** tau pib lawm. Txij no mus cov xov yuav raug txhais.",
        paused="⏸️ **{meeting}** nres ib pliag. Tam sim no cov xov tsis raug txhais.",
        resumed="▶️ **{meeting}** rov pib dua lawm. Cov xov rov raug txhais dua.",
        ended="⏹️ **{meeting}** xaus lawm. Ua tsaug uas koj tuaj koom.",
        draft_note="Daim qauv: tseem tsis tau muaj neeg kuaj xyuas.",
    ),
    "km": Texts(
        title="👋 សូមស្វាគមន៍មកកាន់ **{meeting}**!",
        how="ក្នុងអំឡុងពេលប្រជុំ អ្វីៗទាំងអស់ដែលនិយាយនៅក្នុងឆានែលមេ នឹងបង្ហាញនៅទីនេះជាភាសាខ្មែរ ជាមួយឈ្មោះអ្នកនិយាយ។ "
        "សូមសរសេរនៅទីនេះជាភាសាខ្មែរ៖ អ្នកសម្របសម្រួលនឹងអានសាររបស់អ្នកជាភាសាអង់គ្លេស ហើយគ្រួសារផ្សេងទៀតនឹងអានវាជាភាសារបស់ពួកគេ។",
        machine="ការបកប្រែធ្វើឡើងដោយម៉ាស៊ីន ហើយអ្នកស្ម័គ្រចិត្តត្រួតពិនិត្យ។ វាអាចមានកំហុស។ ដើម្បីមើលអត្ថបទដើមនៃសារមួយ "
        "សូមចុចសង្កត់លើសារនោះ (នៅលើកុំព្យូទ័រ ចុចកណ្ដុរខាងស្ដាំ) ហើយជ្រើសរើស “Show original”។",
        ask="ដើម្បីសួរសំណួរ សូមសរសេរវានៅទីនេះជាភាសាខ្មែរ។ ការបកប្រែផ្ទាល់មាត់គឺឥតគិតថ្លៃ៖ ប្រសិនបើអ្នកចង់ឱ្យមនុស្សម្នាក់បកប្រែឱ្យ "
        "សូមប្រាប់នៅទីនេះ ឬប្រាប់បុគ្គលិកសាលា។",
        privacy="🔒 ឯកជនភាព៖ សាររបស់អ្នកត្រូវបានផ្ញើទៅសេវាបកប្រែ ហើយរក្សាទុករយៈពេល {days} ថ្ងៃ សម្រាប់កំណត់ហេតុប្រជុំ។ "
        "សូមកុំសរសេរព័ត៌មានផ្ទាល់ខ្លួននៅទីនេះ (ឧទាហរណ៍ ព័ត៌មានសុខភាព ឬលេខអត្តសញ្ញាណ)។ សម្រាប់បញ្ហាឯកជន "
        "សូមស្នើសុំការជួបផ្ទាល់ជាមួយសាលា។",
        started="▶️ **{meeting}** បានចាប់ផ្ដើមហើយ។ ចាប់ពីពេលនេះ សារនឹងត្រូវបានបកប្រែ។",
        paused="⏸️ **{meeting}** បានផ្អាកមួយរយៈ។ ឥឡូវនេះ សារមិនត្រូវបានបកប្រែទេ។",
        resumed="▶️ **{meeting}** បន្តវិញហើយ។ សារត្រូវបានបកប្រែម្ដងទៀត។",
        ended="⏹️ **{meeting}** បានបញ្ចប់ហើយ។ សូមអរគុណចំពោះការចូលរួម។",
        draft_note="សេចក្ដីព្រាង៖ មិនទាន់មានមនុស្សត្រួតពិនិត្យនៅឡើយទេ។",
    ),
    "sm": Texts(
        title="👋 Afio mai i le **{meeting}**!",
        how="I le taimi o le fonotaga, o mea uma e fai mai i le channel autu o le a aliali mai iinei i le gagana "
        "Sāmoa, fa'atasi ma le igoa o lē o lo'o tautala. Tusi mai iinei i le gagana Sāmoa: o le a faitau e lē o "
        "lo'o ta'ita'ia le fonotaga lau fe'au i le gagana Peretania, ma o le a faitau e isi aiga i a latou gagana.",
        machine="O le fa'aliliuga e faia e se masini ma e siaki e tagata volenitia. Atonu e iai ni mea sese. Ina "
        "ia va'ai i le ulua'i tusitusiga o se fe'au, oomi umi i luga o le fe'au (i luga o le komepiuta, kiliki "
        "taumatau) ona filifili lea o le “Show original”.",
        ask="Ina ia fai se fesili, tusi mai iinei i le gagana Sāmoa. E leai se totogi o le fa'aliliu upu: afai e te "
        "mana'o i se tagata e fa'aliliu mo oe, ta'u mai iinei pe ta'u i le aufaigaluega a le a'oga.",
        privacy="🔒 Le faalilolilo: o au fe'au e lafo i se auaunaga fa'aliliu ma teu mo aso e {days} mo "
        "fa'amaumauga o le fonotaga. Aua ne'i tusia iinei ni fa'amatalaga patino (fa'ata'ita'iga, fa'amatalaga o le "
        "soifua maloloina po'o numera ID); mo mataupu patino, talosaga i le a'oga mo se fonotaga na'o oe.",
        started="▶️ Ua amata le **{meeting}**. E fa'aliliu fe'au mai le taimi nei.",
        paused="⏸️ Ua taofi le taimi le **{meeting}**. E le fa'aliliuina fe'au i le taimi nei.",
        resumed="▶️ Ua toe fa'aauau le **{meeting}**. Ua toe fa'aliliuina fe'au.",
        ended="⏹️ Ua mae'a le **{meeting}**. Fa'afetai mo lou auai mai.",
        draft_note="Ata fa'ata'ita'i: e le'i siakiina e se tagata.",
    ),
    "pa": Texts(
        title="👋 **{meeting}** ਵਿੱਚ ਤੁਹਾਡਾ ਸੁਆਗਤ ਹੈ!",
        how="ਮੀਟਿੰਗ ਦੌਰਾਨ, ਮੁੱਖ ਚੈਨਲ ਵਿੱਚ ਕਹੀ ਗਈ ਹਰ ਗੱਲ ਇੱਥੇ ਪੰਜਾਬੀ ਵਿੱਚ, ਬੋਲਣ ਵਾਲੇ ਦੇ ਨਾਮ ਨਾਲ ਦਿਖਾਈ ਦੇਵੇਗੀ। ਇੱਥੇ ਪੰਜਾਬੀ ਵਿੱਚ "
        "ਲਿਖੋ: ਫੈਸਿਲੀਟੇਟਰ ਤੁਹਾਡਾ ਸੁਨੇਹਾ ਅੰਗਰੇਜ਼ੀ ਵਿੱਚ ਪੜ੍ਹੇਗਾ, ਅਤੇ ਹੋਰ ਪਰਿਵਾਰ ਇਸਨੂੰ ਆਪਣੀਆਂ ਭਾਸ਼ਾਵਾਂ ਵਿੱਚ ਪੜ੍ਹਨਗੇ।",
        machine="ਅਨੁਵਾਦ ਮਸ਼ੀਨ ਕਰਦੀ ਹੈ ਅਤੇ ਵਲੰਟੀਅਰ ਇਸਦੀ ਜਾਂਚ ਕਰਦੇ ਹਨ। ਇਸ ਵਿੱਚ ਗਲਤੀਆਂ ਹੋ ਸਕਦੀਆਂ ਹਨ। ਕਿਸੇ ਸੁਨੇਹੇ ਦੀ ਮੂਲ ਲਿਖਤ "
        "ਦੇਖਣ ਲਈ, ਉਸਨੂੰ ਦਬਾ ਕੇ ਰੱਖੋ (ਕੰਪਿਊਟਰ 'ਤੇ ਸੱਜਾ ਕਲਿੱਕ ਕਰੋ) ਅਤੇ “Show original” ਚੁਣੋ।",
        ask="ਸਵਾਲ ਪੁੱਛਣ ਲਈ, ਇਸਨੂੰ ਇੱਥੇ ਪੰਜਾਬੀ ਵਿੱਚ ਲਿਖੋ। ਦੁਭਾਸ਼ੀਆ ਸੇਵਾ ਮੁਫ਼ਤ ਹੈ: ਜੇ ਤੁਸੀਂ ਚਾਹੁੰਦੇ ਹੋ ਕਿ ਕੋਈ ਵਿਅਕਤੀ ਤੁਹਾਡੇ ਲਈ "
        "ਅਨੁਵਾਦ ਕਰੇ, ਤਾਂ ਇੱਥੇ ਦੱਸੋ ਜਾਂ ਸਕੂਲ ਦੇ ਸਟਾਫ਼ ਨੂੰ ਦੱਸੋ।",
        privacy="🔒 ਪਰਦੇਦਾਰੀ: ਤੁਹਾਡੇ ਸੁਨੇਹੇ ਇੱਕ ਅਨੁਵਾਦ ਸੇਵਾ ਨੂੰ ਭੇਜੇ ਜਾਂਦੇ ਹਨ ਅਤੇ ਮੀਟਿੰਗ ਦੇ ਰਿਕਾਰਡ ਲਈ {days} ਦਿਨਾਂ ਤੱਕ ਰੱਖੇ "
        "ਜਾਂਦੇ ਹਨ। ਇੱਥੇ ਨਿੱਜੀ ਜਾਣਕਾਰੀ ਨਾ ਲਿਖੋ (ਜਿਵੇਂ ਸਿਹਤ ਬਾਰੇ ਜਾਣਕਾਰੀ ਜਾਂ ਪਛਾਣ ਨੰਬਰ); ਨਿੱਜੀ ਮਾਮਲਿਆਂ ਲਈ ਸਕੂਲ ਤੋਂ ਵੱਖਰੀ "
        "ਮੀਟਿੰਗ ਮੰਗੋ।",
        started="▶️ **{meeting}** ਸ਼ੁਰੂ ਹੋ ਗਈ ਹੈ। ਹੁਣ ਤੋਂ ਸੁਨੇਹਿਆਂ ਦਾ ਅਨੁਵਾਦ ਹੋਵੇਗਾ।",
        paused="⏸️ **{meeting}** ਕੁਝ ਸਮੇਂ ਲਈ ਰੁਕੀ ਹੋਈ ਹੈ। ਇਸ ਵੇਲੇ ਸੁਨੇਹਿਆਂ ਦਾ ਅਨੁਵਾਦ ਨਹੀਂ ਹੋ ਰਿਹਾ।",
        resumed="▶️ **{meeting}** ਦੁਬਾਰਾ ਸ਼ੁਰੂ ਹੋ ਗਈ ਹੈ। ਸੁਨੇਹਿਆਂ ਦਾ ਫਿਰ ਤੋਂ ਅਨੁਵਾਦ ਹੋ ਰਿਹਾ ਹੈ।",
        ended="⏹️ **{meeting}** ਖ਼ਤਮ ਹੋ ਗਈ ਹੈ। ਹਿੱਸਾ ਲੈਣ ਲਈ ਧੰਨਵਾਦ।",
        draft_note="ਖਰੜਾ: ਅਜੇ ਕਿਸੇ ਵਿਅਕਤੀ ਨੇ ਜਾਂਚ ਨਹੀਂ ਕੀਤੀ।",
    ),
}

_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]<@])")


def _texts(code: str) -> tuple[str, Texts]:
    """The seeded texts for a language (Cantonese reads Traditional Chinese), else English."""
    lang = languages.get(code)
    for candidate in (lang.code, lang.translate_as):
        if candidate in TEXTS:
            return candidate, TEXTS[candidate]
    return "en", TEXTS["en"]


def plain(name: str) -> str:
    """A meeting name shown as typed: no Markdown or mention can come out of it."""
    return _MARKDOWN.sub(r"\\\1", " ".join(name.split()))


def _notice(code: str, template: str, reader: str, **values: object) -> Notice:
    texts = TEXTS[code]
    text = template.format(**{k: plain(v) if isinstance(v, str) else v for k, v in values.items()})
    fallback = code == "en" and reader != "en"  # to be machine-translated: a draft whatever its source
    return Notice(code, for_discord(text, code), texts.draft or fallback, texts.sources)


def welcome(language: str, *, meeting: str, keep_days: int) -> Notice:
    """The pinned message of a language channel: how it works, machine translation, questions, privacy."""
    reader = languages.get(language).code
    code, texts = _texts(reader)
    template = "\n\n".join((texts.title, texts.how, texts.machine, texts.ask, texts.privacy))
    return _notice(code, template, reader, meeting=meeting, days=keep_days)


def notice(kind: str, language: str, *, meeting: str) -> Notice:
    """The notice posted in every channel when a meeting starts, pauses, resumes or ends."""
    if kind not in NOTICES:
        raise ValueError(f"Unknown notice '{kind}'. Known: {', '.join(NOTICES)}")
    reader = languages.get(language).code
    code, texts = _texts(reader)
    return _notice(code, getattr(texts, kind), reader, meeting=meeting)


def draft_note(language: str) -> str:
    """What to show beside a draft text, in the reader's language (English when not seeded)."""
    return _texts(language)[1].draft_note
