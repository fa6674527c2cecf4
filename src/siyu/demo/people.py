"""Who the demo brand's customers are: a Chinese name, gender, city and birthday for each
person, drawn from the seed (the same seed gives the same people).

Names are a common surname and a one- or two-character given name; cities follow where a tea
chain sells; birthdays spread over the year, so every day has a few (the 生日关怀 SOP has
someone to greet whatever day the demo is opened).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
    "于杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲兰凤洁梅琳素云莲真环"
    "雪荣爱妹香月莺媛瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖"
    "露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗"
    "羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽浩宇轩然子涵梓睿博"
    "文"
)
CITIES = ("上海", "杭州", "北京", "深圳", "广州", "成都", "南京", "苏州", "武汉", "西安", "重庆", "长沙")
CITY_SHARE = np.array([0.16, 0.12, 0.12, 0.1, 0.1, 0.08, 0.07, 0.06, 0.06, 0.05, 0.04, 0.04])


def people(seed: int, lo: int, n: int) -> dict[str, list[str]]:
    """Traits of persons ``lo`` … ``lo + n - 1``: name, gender, city, birthday (ISO)."""
    rng = np.random.default_rng([seed, lo, 20240501])
    sur = rng.integers(0, len(SURNAMES), n)
    two = rng.random(n) < 0.7
    g1 = rng.integers(0, len(GIVEN), n)
    g2 = rng.integers(0, len(GIVEN), n)
    female = rng.random(n) < 0.62  # a tea chain's members skew female
    city = rng.choice(len(CITIES), size=n, p=CITY_SHARE / CITY_SHARE.sum())
    age_days = rng.integers(18 * 365, 50 * 365, n)
    born = [date(2025, 1, 1) - timedelta(days=int(d)) for d in age_days]
    names = [
        SURNAMES[s] + GIVEN[a] + (GIVEN[b] if t else "") for s, a, b, t in zip(sur, g1, g2, two, strict=True)
    ]
    return {
        "name": names,
        "gender": ["女" if f else "男" for f in female],
        "city": [CITIES[c] for c in city],
        "birthday": [d.isoformat() for d in born],
    }


__all__ = ["people"]
