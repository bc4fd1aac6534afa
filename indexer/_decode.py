"""Bytes to text: BOMs, UTF-8, GB18030 and Big5, whatever a page declares."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from indexer.textrules import BASIC_HAN

# Chinese legacy encodings map onto their supersets: GB2312 and GBK text is
# GB18030, and Big5 pages routinely use HKSCS extensions.
_SUPERSET = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "hz": "gb18030",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
}
_CANDIDATES = ("gb18030", "big5hkscs")
_BASIC_HAN = re.compile(f"[{BASIC_HAN}]")
_DECLARED = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_XML_DECL = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_\-]+)""", re.I)


# Text with a few invalid byte sequences (a scraper cut a character in half, a
# disk flipped a byte) is read with them replaced by U+FFFD when the rest is
# clearly in one encoding: at least this many characters from U+0800 up (CJK
# and the like, three bytes and more in UTF-8) per bad sequence. Chinese in
# GB18030 or Big5 read as UTF-8 gives about 0.02 of them per bad sequence,
# and at most 1 (random strings of common characters, 1 to 500 long).
MIN_GOOD_PER_BAD = 3


class UndecodableError(ValueError):
    """The bytes are not text in any encoding we read."""


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    replaced: int = 0  # invalid byte sequences written as U+FFFD


def encoding_name(encoding: str) -> str:
    """``encoding`` as people write it: UTF-8, GB18030, Big5-HKSCS."""
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "big5hkscs": "Big5-HKSCS"}.get(encoding, encoding.upper())


def _canonical(name: str) -> str | None:
    try:
        norm = codecs.lookup(name).name
    except LookupError:
        return None
    return _SUPERSET.get(norm, norm)


def looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return not (head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)))
    controls = sum(1 for b in head if b < 9 or 13 < b < 32 and b != 27)
    return bool(head) and controls / len(head) > 0.05


def declared_encoding(data: bytes) -> str | None:
    head = data[:4096]
    match = _XML_DECL.search(head) or _DECLARED.search(head)
    return _canonical(match.group(1).decode("ascii")) if match else None


def decode_lenient(data: bytes, encoding: str) -> tuple[str, int] | None:
    """``data`` in ``encoding`` with its invalid byte sequences replaced by U+FFFD, and their
    number; None when they are too many (``MIN_GOOD_PER_BAD``) for the bytes to be that encoding."""
    try:
        text = data.decode(encoding, errors="replace")
    except LookupError:
        return None
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ch >= "\u0800") - bad
    return (text, bad) if good >= MIN_GOOD_PER_BAD * bad else None


def valid_utf8(data: bytes, *, final: bool = True) -> bool:
    """Whether ``data`` is UTF-8 (``final=False``: but for a character cut at its end)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def lines_encoding(sample: bytes, *, complete: bool) -> str:
    """The one encoding of a file of lines (JSON lines) judged on ``sample``, its start:
    UTF-8, unless most of its non-ASCII lines are not UTF-8 and they read as GB18030 or Big5.

    ``complete``: ``sample`` is the whole file (else its last line may be cut short).
    """
    lines = sample.splitlines()
    cut = None if complete or not lines else lines.pop()
    if not lines and cut is not None:
        return "utf-8" if valid_utf8(cut, final=False) else _chinese_encoding(cut)
    bad = [line for line in lines if not valid_utf8(line)]
    if not bad or sum(1 for line in lines if not line.isascii()) - len(bad) >= len(bad):
        return "utf-8"
    return _chinese_encoding(b"\n".join(bad))


def _chinese_encoding(data: bytes) -> str:
    try:
        encoding = decode_text(data).encoding
    except UndecodableError:
        return "utf-8"
    return encoding if encoding in _CANDIDATES else "utf-8"


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode ``data`` and return ``(text, encoding)``; see ``decode_text``."""
    decoded = decode_text(data)
    return decoded.text, decoded.encoding


def decode_text(data: bytes) -> Decoded:
    """Decode ``data``; raise ``UndecodableError`` when it is not text we read.

    Order: a BOM; strict UTF-8 (a page that is valid UTF-8 is UTF-8 whatever its
    ``<meta charset>`` claims); the declared encoding if the bytes decode with it;
    GB18030 and Big5, keeping the one that yields more common Chinese; then the
    same with a few invalid sequences replaced (``decode_lenient``); finally
    charset-normalizer over the whole file.
    """
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return Decoded(data.decode(enc), enc)
            except UnicodeDecodeError as exc:
                raise UndecodableError(f"invalid {enc} after its byte-order mark") from exc
    if looks_binary(data):
        raise UndecodableError("binary content, not text")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    declared = declared_encoding(data)
    legacy = list(dict.fromkeys([e for e in (declared, *_CANDIDATES) if e and e != "utf-8"]))
    scored: list[tuple[float, str, str]] = []
    for enc in legacy:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        bonus = 0.05 if enc == declared else 0.0
        scored.append((_common_han_share(text) + bonus, enc, text))
    if scored:
        share, enc, text = max(scored)
        if share >= _MIN_COMMON_SHARE:
            return Decoded(text, enc)
    damaged = _decode_damaged(data, legacy, declared)
    if damaged is not None:
        return damaged
    best = from_bytes(data).best()
    if best is not None and best.encoding:
        text = str(best)
        if not _BASIC_HAN.search(text[:20000]) or _common_han_share(text) >= _MIN_COMMON_SHARE:
            return Decoded(text, _canonical(best.encoding) or best.encoding)
    raise UndecodableError("not UTF-8, GB18030 or Big5 text (no encoding yields readable Chinese)")


def _decode_damaged(data: bytes, legacy: list[str], declared: str | None) -> Decoded | None:
    """UTF-8, or else the legacy encoding that reads as ordinary Chinese, with a few bytes replaced.

    UTF-8 first: when nearly every non-ASCII sequence is valid UTF-8 the bytes are UTF-8 (a
    legacy encoding read as UTF-8 fails on most of its characters). A legacy candidate must also
    read as common Chinese, as in the strict pass: GB18030 decodes almost anything.
    """
    lenient = decode_lenient(data, "utf-8")
    if lenient is not None:
        return Decoded(lenient[0], "utf-8", lenient[1])
    scored: list[tuple[float, str, str, int]] = []
    for enc in legacy:
        lenient = decode_lenient(data, enc)
        if lenient is not None:
            bonus = 0.05 if enc == declared else 0.0
            scored.append((_common_han_share(lenient[0]) + bonus, enc, lenient[0], lenient[1]))
    if scored:
        share, enc, text, bad = max(scored)
        if share >= _MIN_COMMON_SHARE:
            return Decoded(text, enc, bad)
    return None


# Correctly decoded Chinese has 75-100 % of its Han characters among the most
# common ones; a wrong legacy codec gives 20-50 %.
_MIN_COMMON_SHARE = 0.6


def _common_han_share(text: str) -> float:
    """Share of characters that are frequent Chinese characters in both scripts.

    GB18030 decodes almost any byte string, so the deciding signal between it
    and Big5 is whether the result reads as ordinary Chinese.
    """
    sample = text[:20000]
    han = _BASIC_HAN.findall(sample)
    if not han:
        return 0.0
    common = sum(1 for ch in han if ch in _COMMON)
    return common / len(han)


# The most frequent Chinese characters (Simplified and Traditional forms both),
# enough to tell a correct decode from mojibake.
_COMMON = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落青随选列武红响虽推势参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章音跟志底站严巴例防族供效续施留讲型料终答紧黄绝奇察母京段依批群项故按河米围江织害斗双境客纪采举杀攻父苏密低朝友诉止细愿千值仍男钱破网热助倒育属坐帝限船脸职速刻乐否刚威毛状率甚独球般普怕弹校苦创假久错承印晚兰试股拿脑预谁益阳若哪微尼继送急血惊伤素药适波夜省初喜卫源食险待述陆习置居劳财环排福纳欢雷警获模充负云停木游龙树疑层冷洲冲射略范竟句室异激汉村哈策演简卡罪判担州静退既衣您宗积余痛检差富灵协角占配征修皮挥胜降阶审沉坚善妈刘读啊超免压银买皇养伊怀执副乱抗犯追帮宣佛岁航优怪香著田铁控税左右份穿艺背阵草脚概恶块顿敢守酒岛托央户烈洋哥索胡款靠评版宝座释景顾弟登货互付伯慢欧换闻危忙核暗姐介坏讨丽良序升监临亮露永呼味野架域沙掉括舰鱼杂误湾吉减编楚肯测败屋跑梦散温困剑渐封救贵枪缺楼县尚毫移娘朋画班智亦耳恩短掌恐遗固席松秘谢鲁遇康虑幸均销钟诗藏赶剧票损忽巨炮旧端探湖录叶春乡附吸予礼港雨呀板庭妇归睛饭额含顺输摇招婚脱补谓督毒油疗旅泽材灭逐莫笔亡鲜词圣择寻厂睡博勒烟授诺伦岸奥唐卖俄炸载洛健堂旁宫喝借君禁阴园谋宋避抓荣姑孙逃牙束跳顶玉镇雪午练迫爷篇肉嘴馆遍凡础洞卷坦牛宁纸诸训私庄祖丝翻暴森塔默握戏隐熟骨访弱蒙歌店鬼软典欲萨伙遭盘爸扩盖弄雄稳忘亿刺拥徒姆杨齐赛趣曲刀床迎冰虚玩析窗醒妻透购替塞努休虎扬途侵刑绿兄迅套贸毕唯谷轮库迹尤竞街促延震弃甲伟麻川申缓潜闪售灯针哲络抵朱埃抱鼓植纯夏忍页杰筑折郑贝尊吴秀混臣雅振染盛怒舞圆搞狂措姓残秋培迷诚宽宇猛摆梅毁伸摩盟末乃悲拍丁赵硬麦蒋操耶阻订彩抽赞魔纷沿喊违妹浪汇币丰蓝殊献桌啦瓦莱援译夺汽烧距裁偏符勇触课敬哭懂墙袭召罚侠厅拜巧侧韩冒债曼融惯享戴童犹乘挂奖绍厚纵障讯涉彻刊丈爆乌役描洗玛患妙镜唱烦签仙彼弗症仿倾牌陷鸟轰咱菜闭奋庆撤泪茶疾缘播朗杜奶季丹狗尾仪偷奔珠虫驻孔宜艾桥淡翼恨繁寒伴叹旦愈潮粮缩罢聚径恰挑袋灰捕徐珍幕映裂泰隔启尖忠累炎暂估泛荒偿横拒瑞忆孤鼻闹羊呆厉衡胞零穷舍码赫婆魂灾洪腿胆津俗辩胸晓劲贫仁偶辑邦恢赖圈摸仰润堆碰艇稍迟辆废净凶署壁御奉旋冬矿抬蛋晨伏吹鸡倍糊秦盾杯租骑乏隆诊奴摄丧污渡旗甘耐凭扎抢绪粗肩梁幻菲皆碎宙叔岩荡综爬荷悉蒂返井壮薄悄扫敏碍殖详迪矛霍允幅撒剩凯颗骂赏液番箱贴漫酸郎腰舒眉忧浮辛恋餐吓挺励辞艘键伍峰尺昨黎辈贯侦滑券崇扰宪绕趋慈乔阅汗枝拖墨胁插箭腊粉泥氏彭拔骗凤慧媒佩愤扑龄驱惜豪掩兼跃尸肃帕驶堡届欣惠册储飘桑闲惨洁踪勃宾频仇磨递邪撞拟滚奏巡颜剂绩贡疯坡瞧截燃焦殿伪柳锁逼颇昏劝呈搜勤戒驾漂饮曹朵仔柔俩孟腐幼践籍牧凉牲佳娜浓芳稿竹腹跌逻垂遵脉貌柏狱猜怜惑陶兽帐饰贷昌叙躺钢沟寄扶铺邓寿惧询汤盗肥尝匆辉奈扣廷澳嘛董迁凝慰厌脏腾幽怨鞋丢埋泉涌辖躲晋紫艰魏吾慌祝邮吐狠鉴曰械咬邻赤挤弯椅陪割揭韦悟聪雾锋梯猫祥阔誉筹丛牵鸣沈阁穆屈旨袖猎臂蛇贺柱抛鼠瑟戈牢逊迈欺吨琴衰瓶恼燕仲诱狼池疼卢仗冠粒遥吕玄尘冯抚浅敦纠钻晶岂峡苍喷耗凌敲菌赔涂粹扁亏寂煤熊恭湿循暖糖赋抑秩帽哀宿踏烂袁侯抖夹昆肝擦猪炼恒慎搬纽纹玻渔磁铜齿跨押怖漠疲叛遣兹祭醉拳弥斜档稀捷肤疫肿豆削岗晃吞宏癌肚隶履涨耀扭坛拨沃绘伐堪仆郭牺歼墓雇廉契拼惩捉覆刷劫嫌瓜歇雕闷乳串娃缴唤赢莲霸桃妥瘦搭赴岳嘉舱俊址庞耕锐缝悔邀玲惟斥宅添挖呵讼氧浩羽斤酷掠妖祸侍乙妨贪挣汪尿莉悬唇翰仓轨枚盐览傅帅庙芬屏寺胖璃愚滴疏萧姿颤丑劣柯寸扔盯辱匹俱辨饿蜂哦腔郁溃谨糟葛苗肠忌溜鸿爵鹏鹰笼丘桂滋聊挡纲肌茨壳痕碗穴膀卓贤卧膜毅锦欠哩函茫昂薛皱夸豫胃舌剥傲拾窝睁携陵哼棉晴铃填饲渴吻扮逆脆喘罩卜炉柴愉绳胎蓄眠竭喂傻慕浑奸扇柜悦拦诞饱乾泡贼亭夕爹酬儒姻卵氛泄杆挨僧蜜吟猩遂狭肖甜霞驳裕顽於摘矮秒卿畜咽披辅勾盆疆赌塑畏吵囊嗯泊肺骤缠冈羞瞪吊贾漏斑涛悠鹿俘锡卑葬铭滩嫁催璇翅盒蛮矣潘歧赐鲍锅廊拆灌勉盲宰佐啥胀扯禧辽抹筒棋裤唉朴咐孕誓喉妄拘链驰栏逝窃艳臭纤玑棵趁匠盈翁愁瞬婴孝颈倘浙谅蔽畅赠妮莎尉冻跪闯葡後厨鸭颠遮谊圳吁仑辟瘤嫂陀框谭亨钦庸歉芝吼甫衫摊宴嘱衷娇陕矩浦讶耸裸碧摧薪淋耻胶屠鹅饥盼脖虹翠崩账萍逢赚撑翔倡绵猴枯巫昭怔渊凑溪蠢禅阐旺寓藤匪伞碑挪琼脂谎慨菩萄狮掘抄岭晕逮砍掏狄晰罕挽脾舟痴蔡剪脊弓懒叉拐喃僚捐姊骚拓歪粘柄坑陌窄湘兆崖骄刹鞭芒筋聘钩棍嚷腺弦焰耍俯厘愣厦恳饶钉寡憾摔叠惹喻谱愧煌徽溶坠煞巾滥洒堵瓷咒姨棒郡浴媚稣淮哎屁漆淫巢吩撰啸滞玫硕钓蝶膝姚茂躯吏猿寨恕渠戚辰舶颁惶狐讽笨袍嘲啡泼衔倦涵雀旬僵撕肢垄夷逸茅侨舆窑涅蒲谦杭噢弊勋刮郊凄捧浸砖鼎篮蒸饼亩肾陡爪兔殷贞荐哑炭坟眨搏咳拢舅昧擅爽咖搁禄雌哨巩绢螺裹昔轩谬谍龟媳姜瞎冤鸦蓬巷琳栽沾诈斋瞒彪厄咨纺罐桶壤糕颂膨谐垒咕隙辣绑宠嘿兑霉挫稽辐乞纱裙嘻哇绣杖塘衍轴攀膊譬斌祈踢肆坎轿棚泣屡躁邱凰溢椎砸趟帘帆栖窜丸斩堤塌贩厢掀喀乖谜捏阎滨虏匙芦苹卸沼钥株祷剖熙哗劈怯棠胳桩瑰娱娶沫嗓蹲焚淘嫩韵衬匈钧竖峻豹捞菊鄙魄兜哄颖镑屑蚁壶怡渗秃迦旱哟咸焉谴宛稻铸锻伽詹毙恍贬烛骇芯汁桓坊驴朽靖佣汝碌迄冀荆崔雁绅珊榜诵傍彦醇笛禽勿娟瞄幢寞睹贿踩霆呜拱妃蔑谕缚诡篷淹腕煮倩卒勘馨逗甸贱炒灿敞蜡囚栗辜垫妒魁谣寇弘阀颊滔俏蛛撼绸盔暑禹狡嘶氮鬓筏翟哺驼艘鳞鞠肴澡渣睫哮矢蓉咆硫冥缕屿讳遏冕赎泳瓣赂懈蟹羡蠕骏萌绕" +
    "們這來為國說時們會對於個裡後說過現當從經還沒動麼樣開進長種實學問體點關機將應業義兩間題議無與產發權員區業設電見車給條聲書萬雖邊線聯總術門較變歷頭處東邊讓導爾戰報計記張風頭傳島馬亞難愛統師觀鄉華衛戲層際飛雙單類軍運場樂廣環視聽興幾陸調費識護須備勢論許專誰協態議響認響鐵標讀務雜輕參創樓極團員話語辦顯險據質區條團邊錢員術費隊導縣級術漢場勝願號錄續觀團藝劃"
)
