"""What the simulated people say: callers' statements, responders' notes, the duty desk's summaries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Story:
    """How callers report one category: the line they dial and the ways they put it."""

    line: str
    statements: tuple[str, ...]
    weight: float


# Several wordings per category, so the callers of one event do not all say the same.
STORIES: dict[str, Story] = {
    "waterlogging": Story(
        "12345",
        (
            "{place}路面积水快到膝盖了，车子开不过去，麻烦赶紧派人来排水。",
            "我家门口积水越来越深，下水道往外冒水，{place}这边很多店都进水了。",
            "{place}有个路口全是水，电动车都熄火了，有老人小孩过不去。",
        ),
        3.0,
    ),
    "fallen_tree": Story(
        "12345",
        (
            "{place}路边一棵大树被风刮倒了，压住半边路，车过不去。",
            "刚才一阵大风，{place}的树倒了，树枝搭在电线上，很危险。",
            "{place}倒了一棵树，把路堵死了，快派人来处理一下。",
        ),
        2.0,
    ),
    "manhole_cover_missing": Story(
        "12345",
        (
            "{place}人行道上有个井盖没了，晚上黑，很容易踩进去。",
            "{place}马路中间的井盖不见了，刚才有辆电动车差点摔了。",
        ),
        1.5,
    ),
    "traffic_accident": Story(
        "110",
        (
            "{place}两辆车撞了，有一个人好像受伤了，路口堵住了。",
            "{place}一辆货车和电动车刮了，骑车的人坐在地上起不来。",
            "{place}出车祸了，后面车排了好长的队。",
        ),
        2.0,
    ),
    "public_security": Story(
        "110",
        (
            "{place}有几个人在店门口打架，好像还拿了东西。",
            "{place}有人吵得很凶，推推搡搡的，快派警察来看看。",
        ),
        1.5,
    ),
    "crowd_gathering": Story(
        "110",
        (
            "{place}聚了好多人，情绪比较激动，在那里围着。",
            "{place}堤上围了一大群人在看水，挤得很，怕出事。",
        ),
        1.0,
    ),
    "fire": Story(
        "119",
        (
            "{place}有房子冒黑烟，好像着火了！",
            "{place}一楼着火了，火苗从窗户窜出来了，快来！",
            "{place}那边烧起来了，烟很大，不知道里面有没有人。",
        ),
        1.5,
    ),
    "medical_emergency": Story(
        "120",
        (
            "{place}有个老人突然晕倒了，叫不醒，快派救护车。",
            "{place}有人摔倒了，头在流血，意识不太清楚。",
            "{place}一个人说胸口痛，喘不上气，麻烦快点来。",
        ),
        1.5,
    ),
    "person_in_water": Story(
        "110",
        (
            "{place}码头那边有人掉水里了，在水里扑腾！",
            "{place}好像有人落水了，快来救人！",
        ),
        0.0,
    ),
    "illegal_fishing": Story(
        "12345",
        (
            "{place}湖里有人开船电鱼，禁捕期还在捕，你们管一下。",
            "{place}有条小船在禁捕水域下网，已经好几天了。",
        ),
        0.7,
    ),
    "food_safety": Story(
        "12345",
        (
            "在{place}一家饭店吃完饭，一家人都拉肚子了。",
            "{place}菜市场有人卖病死猪肉，便宜得不正常。",
        ),
        0.7,
    ),
    "price_fraud": Story(
        "12345",
        ("{place}超市的矿泉水、方便面涨价好几倍，趁涨水发灾难财。",),
        0.4,
    ),
    "pollution": Story(
        "12345",
        (
            "{place}河沟里好多死鱼，水发黑发臭。",
            "{place}有个厂往沟里排黄水，味道很刺鼻。",
        ),
        0.6,
    ),
    "illegal_vending": Story(
        "12345",
        ("{place}人行道全被摆摊的占了，行人只能走马路。",),
        0.6,
    ),
}

LANDMARKS = (
    "菜市场旁",
    "小学门口",
    "加油站附近",
    "卫生院对面",
    "渡口边",
    "村部旁",
    "老街口",
    "超市门口",
    "堤脚下",
    "农贸市场后面",
)

SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗"
CALLER_TITLES = ("先生", "女士", "师傅", "阿姨")

DECLINE_REASONS = (
    "正在处置另一起事件，无法前往",
    "车辆故障，请改派他人",
    "人在外地培训，请改派",
    "身体不适，请改派",
)

COMPLETION_NOTES: dict[str, tuple[str, ...]] = {
    "water_level_warning": ("已巡查堤段，未见渗漏管涌，加密巡查中", "已设置警戒标志，通知沿岸群众注意安全"),
    "embankment_seepage": ("已用砂袋反滤围井处置，渗水变清", "已上报防汛办，抢险队已接手"),
    "waterlogging": ("已打开雨水篦子，积水正在消退", "已设置警示牌，协助车辆绕行"),
    "smoke": ("现场核实为做饭油烟，误报，已复位探测器", "已扑灭初起火情，无人员受伤"),
    "gas_leak": ("已关闭总阀、开窗通风，燃气公司已到场", "检测浓度已正常，已提醒住户更换软管"),
    "fire": ("火已扑灭，无人员伤亡，消防队在清理余火",),
    "person_in_water": ("落水人员已救起，已交120转送医院",),
    "medical_emergency": ("已交120送医，家属陪同",),
    "traffic_accident": ("已疏导交通，交警已到场处理",),
    "illegal_fishing": ("已劝离捕捞船只，没收网具，移交渔政",),
    "illegal_vending": ("已劝导摊主撤离，人行道已恢复通行",),
}
GENERIC_NOTES = ("现场已处置完毕", "已核实并处置，情况已上报")

RESOLVE_SUMMARIES = ("现场处置完毕，结案", "经网格员核实处置，恢复正常", "处置完毕，已回访报警人")


OPENERS = ("", "喂，你好，", "你好，我反映个情况：", "麻烦你们，")
"""How callers begin; the callers of one event each begin differently."""


def statement(category: str, variant: int, caller: int, place: str) -> str:
    story = STORIES.get(category)
    said = (
        story.statements[(variant + caller) % len(story.statements)].format(place=place)
        if story is not None
        else f"{place}出了状况，请派人来看看。"
    )
    return OPENERS[caller % len(OPENERS)] + said


def completion_note(category: str, variant: int) -> str:
    notes = COMPLETION_NOTES.get(category, GENERIC_NOTES)
    return notes[variant % len(notes)]


TREND_WORDS = {"rising": "水位上涨", "falling": "水位回落", "steady": "水位持平"}
