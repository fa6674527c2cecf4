// Charts in Chinese: plotly.js's own texts (the tool bar's buttons, hints, messages) and its
// date axes (11月, 周一) as a zh-CN locale. The plotly.js shipped inside the Python package has
// no locale files, so the dictionary lives here; pages pick the locale from <html lang>.
(function () {
  "use strict";
  if (!window.Plotly) return;
  window.Plotly.register({
    moduleType: "locale",
    name: "zh-CN",
    dictionary: {
      "Autoscale": "自动缩放",
      "Box Select": "矩形选择",
      "Click to enter Colorscale title": "点击输入色阶标题",
      "Click to enter Plot title": "点击输入图表标题",
      "Click to enter X axis title": "点击输入横轴标题",
      "Click to enter Y axis title": "点击输入纵轴标题",
      "Compare data on hover": "悬停时比较数据",
      "Double-click on legend to isolate one trace": "双击图例只看这一项",
      "Double-click to zoom back out": "双击还原",
      "Download plot": "下载图表",
      "Download plot as a PNG": "下载图表（PNG 图片）",
      "Download plot as JSON": "下载图表数据",
      "Draw circle": "画圆",
      "Draw closed freeform": "画闭合图形",
      "Draw line": "画线",
      "Draw open freeform": "画开放图形",
      "Draw rectangle": "画矩形",
      "Erase active shape": "删除选中的图形",
      "Lasso Select": "套索选择",
      "Orbital rotation": "轨道旋转",
      "Pan": "平移",
      "Produced with Plotly.js": "由 Plotly.js 绘制",
      "Reset axes": "重置坐标轴",
      "Reset camera to default": "重置视角",
      "Reset camera to last save": "恢复上次保存的视角",
      "Reset view": "重置视图",
      "Reset views": "重置视图",
      "Share": "分享",
      "Share chart": "分享图表",
      "Share chart...": "分享图表…",
      "Show closest data on hover": "悬停时显示最近的数据",
      "Snapshot succeeded": "截图成功",
      "Sorry, there was a problem downloading your image!": "抱歉，图片下载失败！",
      "Sorry, there was a problem downloading your JSON file!": "抱歉，数据下载失败！",
      "Taking snapshot - this may take a few seconds": "正在截图，请稍候",
      "Toggle Spike Lines": "显示/隐藏辅助线",
      "Toggle attribution": "显示/隐藏来源",
      "Toggle show closest data on hover": "悬停时显示/隐藏最近的数据",
      "Turntable rotation": "转台旋转",
      "Zoom": "缩放",
      "Zoom in": "放大",
      "Zoom out": "缩小",
      "new text": "新文本",
      "trace": "系列"
    },
    format: {
      days: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
      shortDays: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
      months: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"],
      shortMonths: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
      date: "%Y-%m-%d",
      periods: ["上午", "下午"],
      decimal: ".",
      thousands: ",",
      grouping: [3],
      currency: ["¥", ""]
    }
  });
})();
